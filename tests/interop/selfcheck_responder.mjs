#!/usr/bin/env node
// Used by selfcheck.sh only: the smallest stand-in for the fake server that
// lets the drivers be checked alone. It answers the Noise XX handshake with a
// certificate chain signed by a throwaway root; to a registering client it
// sends a `pair-device` iq (the client shows QR codes) and answers
// `link_code_companion_reg` (pairing by code yields a code); when told on stdin
// that a QR was "scanned" it plays the phone: pair-success, then the 515
// restart, then `<success>` to the login; every other iq gets an empty result
// (a `<count value="0"/>` for the prekey count). No messages, no history.
// The real fake server lives elsewhere in the project.
//
//   node selfcheck_responder.mjs --node-dir DIR --cert PEM --key PEM
// stdin: {"scan":"<QR string>"} per line.
// stdout: first line {"root_key":hex,"tls_port":N,"ws_port":N}, then one JSON
// line per thing seen: {"client_payload":"registration"|"login"}, {"node":tag,...}.
// Crypto, protobufs and the binary-node codec come from the Baileys package.

import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
	options: { 'node-dir': { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } }
})
const requireFromCache = createRequire(join(args['node-dir'], 'package.json'))
const load = async name => import(pathToFileURL(requireFromCache.resolve(name)).href)
const { Curve, hkdf, sha256, aesEncryptGCM, aesDecryptGCM, proto, encodeBinaryNode, decodeBinaryNode, NOISE_MODE } =
	await load('@whiskeysockets/baileys')
const { WebSocketServer } = (await load('ws')).default

const report = obj => process.stdout.write(JSON.stringify(obj) + '\n')
const PROLOGUE = Buffer.from([0x57, 0x41, 0x06, 0x03])

const root = Curve.generateKeyPair()
const intermediate = Curve.generateKeyPair()
const serverStatic = Curve.generateKeyPair()
const account = Curve.generateKeyPair() // the "phone's" identity
const PHONE_DEVICE_JID = '15551234567:5@s.whatsapp.net'
const PHONE_DEVICE_LID = '99990001:5@lid'
let awaitingScan = null // sendNode of the registering connection

function certChain() {
	const now = Math.floor(Date.now() / 1000)
	const details = (serial, issuerSerial, key) =>
		proto.CertChain.NoiseCertificate.Details.encode({
			serial, issuerSerial, key, notBefore: now - 3600, notAfter: now + 86400
		}).finish()
	const inter = details(1, 0, intermediate.public)
	const leaf = details(2, 1, serverStatic.public)
	return proto.CertChain.encode({
		intermediate: { details: inter, signature: Buffer.from(Curve.sign(root.private, inter)) },
		leaf: { details: leaf, signature: Buffer.from(Curve.sign(intermediate.private, leaf)) }
	}).finish()
}

// The phone's side of a QR scan: an ADV identity signed by the account key,
// HMAC'd with the advSecret from the QR.
function pairSuccess(qr) {
	const [, identityB64, advSecretB64] = qr.split('#').pop().split(',').slice(1)
	const details = Buffer.from(proto.ADVDeviceIdentity.encode({
		rawId: 1, timestamp: Math.floor(Date.now() / 1000), keyIndex: 1
	}).finish())
	const signed = Buffer.from(proto.ADVSignedDeviceIdentity.encode({
		details,
		accountSignatureKey: account.public,
		accountSignature: Buffer.from(Curve.sign(account.private,
			Buffer.concat([Buffer.from([6, 0]), details, Buffer.from(identityB64, 'base64')])))
	}).finish())
	const hmac = createHmac('sha256', Buffer.from(advSecretB64, 'base64')).update(signed).digest()
	return {
		tag: 'iq',
		attrs: { from: '@s.whatsapp.net', type: 'set', id: 'pair-2', xmlns: 'md' },
		content: [{
			tag: 'pair-success',
			attrs: {},
			content: [
				{ tag: 'device-identity', attrs: {}, content: Buffer.from(proto.ADVSignedDeviceIdentityHMAC.encode({ details: signed, hmac }).finish()) },
				{ tag: 'platform', attrs: { name: 'android' } },
				{ tag: 'device', attrs: { jid: PHONE_DEVICE_JID, lid: PHONE_DEVICE_LID } }
			]
		}]
	}
}

// One Noise XX responder per connection (symmetric state as in the Noise spec).
function handleConnection(ws) {
	let hash = Buffer.from(NOISE_MODE) // exactly 32 bytes, so used as is
	let salt = hash
	let key = hash
	let counter = 0
	let transport = null
	let inBytes = Buffer.alloc(0)
	let sawPrologue = false
	let ephemeral
	let handshakeStep = 0

	const iv = n => { const b = Buffer.alloc(12); b.writeUInt32BE(n, 8); return b }
	const mixHash = data => { hash = sha256(Buffer.concat([hash, data])) }
	const mixKey = ikm => {
		const out = hkdf(Buffer.from(ikm), 64, { salt, info: '' })
		salt = out.subarray(0, 32)
		key = out.subarray(32)
		counter = 0
	}
	const encrypt = plain => { const c = aesEncryptGCM(plain, key, iv(counter++), hash); mixHash(c); return c }
	const decrypt = cipher => { const p = aesDecryptGCM(cipher, key, iv(counter++), hash); mixHash(cipher); return p }

	const sendFrame = data => {
		const frame = Buffer.alloc(3 + data.length)
		frame.writeUIntBE(data.length, 0, 3)
		data.copy(frame, 3)
		ws.send(frame)
	}
	const sendNode = node => {
		const plain = encodeBinaryNode(node)
		sendFrame(aesEncryptGCM(plain, transport.enc, iv(transport.writeCounter++), Buffer.alloc(0)))
	}

	const onHandshakeFrame = frame => {
		const msg = proto.HandshakeMessage.decode(frame)
		if (handshakeStep === 0) {
			mixHash(PROLOGUE)
			mixHash(msg.clientHello.ephemeral)
			ephemeral = Curve.generateKeyPair()
			mixHash(ephemeral.public)
			mixKey(Curve.sharedKey(ephemeral.private, msg.clientHello.ephemeral))
			const staticEnc = encrypt(serverStatic.public)
			mixKey(Curve.sharedKey(serverStatic.private, msg.clientHello.ephemeral))
			const payloadEnc = encrypt(certChain())
			sendFrame(Buffer.from(proto.HandshakeMessage.encode({
				serverHello: { ephemeral: ephemeral.public, static: staticEnc, payload: payloadEnc }
			}).finish()))
			handshakeStep = 1
			return
		}
		const clientStatic = decrypt(msg.clientFinish.static)
		mixKey(Curve.sharedKey(ephemeral.private, clientStatic))
		const payload = proto.ClientPayload.decode(decrypt(msg.clientFinish.payload))
		const out = hkdf(Buffer.alloc(0), 64, { salt, info: '' })
		transport = { dec: out.subarray(0, 32), enc: out.subarray(32), readCounter: 0, writeCounter: 0 }
		const registering = Boolean(payload.devicePairingData)
		report({ client_payload: registering ? 'registration' : 'login' })
		if (!registering) {
			sendNode({ tag: 'success', attrs: { t: String(Math.floor(Date.now() / 1000)), lid: PHONE_DEVICE_LID } })
			return
		}
		awaitingScan = sendNode
		sendNode({
			tag: 'iq',
			attrs: { from: '@s.whatsapp.net', type: 'set', id: 'pair-1', xmlns: 'md' },
			content: [{
				tag: 'pair-device',
				attrs: {},
				content: [1, 2, 3, 4, 5, 6].map(n => ({ tag: 'ref', attrs: {}, content: Buffer.from(`selfcheck-ref-${n}`) }))
			}]
		})
	}

	const onNode = node => {
		const child = Array.isArray(node.content) ? node.content[0]?.tag : undefined
		report({ node: node.tag, type: node.attrs.type, xmlns: node.attrs.xmlns, child })
		if (node.tag !== 'iq') {
			return
		}
		if (child === 'pair-device-sign') {
			sendNode({ tag: 'stream:error', attrs: { code: '515' } })
			setTimeout(() => ws.close(), 100)
			return
		}
		if (node.attrs.type !== 'get' && node.attrs.type !== 'set') {
			return
		}
		const reply = { tag: 'iq', attrs: { from: '@s.whatsapp.net', type: 'result', id: node.attrs.id } }
		if (child === 'link_code_companion_reg') {
			reply.content = [{
				tag: 'link_code_companion_reg',
				attrs: {},
				content: [{ tag: 'link_code_pairing_ref', attrs: {}, content: Buffer.from('selfcheck-code-ref') }]
			}]
		} else if (child === 'count') {
			reply.content = [{ tag: 'count', attrs: { value: '0' } }]
		}
		sendNode(reply)
	}

	ws.on('message', async data => {
		inBytes = Buffer.concat([inBytes, data])
		if (!sawPrologue) {
			if (inBytes.length < 4) return
			if (!inBytes.subarray(0, 4).equals(PROLOGUE)) { ws.close(); return }
			inBytes = inBytes.subarray(4)
			sawPrologue = true
		}
		while (inBytes.length >= 3 && inBytes.length >= 3 + inBytes.readUIntBE(0, 3)) {
			const size = inBytes.readUIntBE(0, 3)
			const frame = inBytes.subarray(3, 3 + size)
			inBytes = inBytes.subarray(3 + size)
			try {
				if (!transport) {
					onHandshakeFrame(frame)
				} else {
					const plain = aesDecryptGCM(frame, transport.dec, iv(transport.readCounter++), Buffer.alloc(0))
					onNode(await decodeBinaryNode(plain))
				}
			} catch (err) {
				report({ error: String(err?.message ?? err) })
				ws.close()
			}
		}
	})
}

const listen = server => new Promise(resolve => {
	new WebSocketServer({ server, path: '/ws/chat' }).on('connection', handleConnection)
	server.listen(0, '127.0.0.1', () => resolve(server.address().port))
})
const tlsPort = await listen(createHttpsServer({ cert: readFileSync(args.cert), key: readFileSync(args.key) }))
const wsPort = await listen(createHttpServer())
report({ root_key: root.public.toString('hex'), tls_port: tlsPort, ws_port: wsPort })

createInterface({ input: process.stdin }).on('line', line => {
	const { scan } = JSON.parse(line)
	if (scan && awaitingScan) {
		awaitingScan(pairSuccess(scan))
	}
})
