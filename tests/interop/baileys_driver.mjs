#!/usr/bin/env node
// Baileys (npm @whiskeysockets/baileys, pinned) as a JSON-lines client for the
// interop check.
//
//   node baileys_driver.mjs --root-key HEX --url ws://127.0.0.1:PORT/ws/chat \
//        --state DIR [--node-dir DIR]
//
// --node-dir (or INTEROP_NODE_DIR) is the folder setup.sh installed
// node_modules into. stdout: one JSON event per line (see README.md);
// stdin: one JSON command per line; logs (pino) on stderr.

import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
	options: {
		'root-key': { type: 'string' },
		url: { type: 'string' },
		state: { type: 'string' },
		'node-dir': { type: 'string', default: process.env.INTEROP_NODE_DIR }
	}
})
for (const name of ['root-key', 'url', 'state', 'node-dir']) {
	if (!args[name]) {
		console.error(`baileys_driver: --${name} is required`)
		process.exit(2)
	}
}

let quitting = false // after `quit`, nothing but the quit event itself
const emit = (event, fields = {}) => {
	if (!quitting || event === 'quit') {
		process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
	}
}

// The packages live in the cache folder, not next to this file, and ESM
// import ignores NODE_PATH; resolve them from that folder explicitly.
const requireFromCache = createRequire(join(args['node-dir'], 'package.json'))
const load = async name => import(pathToFileURL(requireFromCache.resolve(name)).href)
const baileys = await load('@whiskeysockets/baileys')
const { default: pino } = await load('pino')
const { default: makeWASocket, Browsers, DisconnectReason, WA_CERT_DETAILS, useMultiFileAuthState } = baileys

const rootKey = Buffer.from(args['root-key'], 'hex')
if (rootKey.length !== 32) {
	console.error('baileys_driver: --root-key must be 32 bytes of hex')
	process.exit(2)
}
// The root the server's certificate chain must chain to. (7.0.0-rc14 ignores the
// signature checks' results, so this matters only once Baileys fixes that; see README.)
WA_CERT_DETAILS.PUBLIC_KEY = rootKey

const logger = pino({ level: process.env.BAILEYS_LOG_LEVEL ?? 'info' }, pino.destination(2))
const { state, saveCreds } = await useMultiFileAuthState(args.state)

let sock
let stopping = false // no reconnect after a close we asked for
let socketUp = false // the server has sent a QR, so pairing by code may start
let pendingPairPhone = null

const textOf = message =>
	message?.conversation ?? message?.extendedTextMessage?.text ?? null

// Baileys does not reconnect by itself: after the 515 "restart required" that
// follows pairing (and after any other drop) a new socket must be made.
function connect() {
	socketUp = false
	sock = makeWASocket({
		auth: state,
		logger,
		waWebSocketUrl: args.url,
		browser: Browsers.ubuntu('Chrome'),
		markOnlineOnConnect: false,
		// The default drops FULL (type 2) history syncs; report every sync the server sends.
		shouldSyncHistoryMessage: () => true
	})
	sock.ev.on('creds.update', saveCreds)

	sock.ev.on('connection.update', update => {
		const { connection, lastDisconnect, qr, isNewLogin } = update
		if (qr) {
			emit('qr', { code: qr })
			socketUp = true
			if (pendingPairPhone) {
				const cmd = pendingPairPhone
				pendingPairPhone = null
				runCommand(cmd)
			}
		}
		if (isNewLogin) {
			emit('paired', { jid: state.creds.me?.id ?? '' })
		}
		if (connection === 'open') {
			emit('connected')
		}
		if (connection === 'close') {
			const code = lastDisconnect?.error?.output?.statusCode
			const detail = lastDisconnect?.error?.message ?? ''
			if (code === DisconnectReason.loggedOut) {
				emit('logged_out', { reason: detail || String(code) })
				return
			}
			if (code === DisconnectReason.restartRequired && !stopping) {
				logger.info('restart required (515), reconnecting')
				connect()
				return
			}
			emit('disconnected', { code: code ?? null, detail })
			if (!stopping) {
				setTimeout(connect, 2000)
			}
		}
	})

	sock.ev.on('messages.upsert', ({ messages, type }) => {
		if (type !== 'notify') {
			return // 'append' is our own sends and offline catch-up echoes
		}
		for (const msg of messages) {
			const text = textOf(msg.message)
			if (text === null) {
				logger.info({ id: msg.key.id }, 'non-text message')
				continue
			}
			const chat = msg.key.remoteJid
			emit('message', {
				chat,
				sender: msg.key.participant || (msg.key.fromMe ? state.creds.me?.id : chat),
				id: msg.key.id,
				text,
				from_me: Boolean(msg.key.fromMe),
				is_group: chat.endsWith('@g.us')
			})
		}
	})

	sock.ev.on('messaging-history.set', ({ chats, messages, syncType }) => {
		emit('history_sync', { conversations: chats.length, messages: messages.length, sync_type: syncType })
	})
}

const commands = {
	async pair_phone(cmd) {
		if (!socketUp) {
			// The code request needs a live socket; it is sent on the first QR.
			pendingPairPhone = cmd
			return
		}
		const code = await sock.requestPairingCode(cmd.phone)
		emit('pair_code', { code: `${code.slice(0, 4)}-${code.slice(4)}` })
	},
	async send_text(cmd) {
		const sent = await sock.sendMessage(cmd.to, { text: cmd.text })
		emit('sent', { id: sent.key.id, to: cmd.to })
	},
	async logout() {
		stopping = true
		await sock.logout()
	},
	async disconnect() {
		stopping = true
		sock.end(undefined)
	},
	async quit() {
		if (quitting) {
			return
		}
		quitting = stopping = true
		emit('quit')
		sock.end(undefined)
		setTimeout(() => process.exit(0), 200)
	}
}

function runCommand(cmd) {
	const handler = commands[cmd?.cmd]
	if (!handler) {
		emit('error', { detail: `unknown command ${JSON.stringify(cmd)}` })
		return
	}
	handler(cmd).catch(err => emit('error', { detail: `${cmd.cmd}: ${err?.message ?? err}` }))
}

process.on('unhandledRejection', err => emit('error', { detail: `unhandled: ${err?.message ?? err}` }))

connect()

createInterface({ input: process.stdin })
	.on('line', line => {
		if (!line.trim()) {
			return
		}
		let cmd
		try {
			cmd = JSON.parse(line)
		} catch (err) {
			emit('error', { detail: `bad command ${line}: ${err.message}` })
			return
		}
		runCommand(cmd)
	})
	.on('close', () => runCommand({ cmd: 'quit' }))
