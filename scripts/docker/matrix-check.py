#!/usr/bin/env python3
"""Talks to a running compose setup the way a new user does, through its published port:
registers a user with Synapse's shared secret, opens a direct chat with the bridge bot,
waits for its welcome, sends `help` and waits for the list of commands.

With a fake WhatsApp server (the `fakewa-serve` program and the address it is to listen
on, where the bridge's config points it), it then links a WhatsApp account: sends
`login qr`, has the fake phone scan the code from the bot's QR image, and waits for the
bot to say the login succeeded.

Exits non-zero, saying what did not happen, otherwise.

usage: matrix-check.py BASE_URL SERVER_NAME SHARED_SECRET [FAKEWA_SERVE LISTEN_ADDRESS]"""
import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

base, server_name, shared_secret = sys.argv[1], sys.argv[2], sys.argv[3]
fake_whatsapp = sys.argv[4:6]
bot = f"@whatsappbot:{server_name}"
phone = "15550001234"


def call(method, path, body=None, token=None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def register(user, password):
    nonce = call("GET", "/_synapse/admin/v1/register")["nonce"]
    mac = hmac.new(shared_secret.encode(), digestmod=hashlib.sha1)
    mac.update(f"{nonce}\0{user}\0{password}\0notadmin".encode())
    answer = call("POST", "/_synapse/admin/v1/register", {
        "nonce": nonce, "username": user, "password": password, "mac": mac.hexdigest(),
    })
    return answer["access_token"]


def bot_events(token, room):
    chunk = call("GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=f&limit=100",
                 token=token)["chunk"]
    return [event for event in chunk
            if event["type"] == "m.room.message" and event["sender"] == bot]


def bot_messages(token, room):
    return [event["content"].get("body", "") for event in bot_events(token, room)]


def wait_for(token, room, needle, what, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if any(needle in body for body in bot_messages(token, room)):
            print(f"compose check: {what}")
            return
        time.sleep(1)
    sys.exit(f"compose check: {what} did not happen; the bot said {bot_messages(token, room)}")


def qr_code(token, room):
    """The raw code of the bot's first QR image (its body)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        for event in bot_events(token, room):
            if event["content"].get("msgtype") == "m.image":
                return event["content"]["body"]
        time.sleep(1)
    sys.exit(f"compose check: no QR image came; the bot said {bot_messages(token, room)}")


def fake_whatsapp_line(server):
    line = server.stdout.readline()
    if not line:
        sys.exit("compose check: the fake WhatsApp server stopped")
    return json.loads(line)


def link_whatsapp(token, room, program, listen):
    server = subprocess.Popen([program, "--listen", listen], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        print(f"compose check: fake WhatsApp at {fake_whatsapp_line(server)['ready']['url']}")
        call("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/check-login",
             {"msgtype": "m.text", "body": "login qr"}, token=token)
        code = qr_code(token, room)
        server.stdin.write(json.dumps({"scan": {"phone": phone, "qr": code}}) + "\n")
        server.stdin.flush()
        while True:
            answer = fake_whatsapp_line(server)
            if "error" in answer:
                sys.exit(f"compose check: the fake phone could not scan the QR code: {answer}")
            if "scanned" in answer:
                break
        print("compose check: the fake phone scanned the QR code from the bot's image")
        wait_for(token, room, f"Successfully logged in as +{phone}",
                 "the bridge in the container linked the WhatsApp account", seconds=120)
    finally:
        server.stdin.close()
        server.wait(timeout=10)


token = register("alice", "alice-password-for-the-check")
room = call("POST", "/_matrix/client/v3/createRoom",
            {"invite": [bot], "is_direct": True, "preset": "trusted_private_chat"},
            token=token)["room_id"]
wait_for(token, room, "management room", "the bot joined the direct chat and said hello")
call("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/check-help",
     {"msgtype": "m.text", "body": "help"}, token=token)
wait_for(token, room, "login", "the bot answered help with its commands")
if fake_whatsapp:
    link_whatsapp(token, room, *fake_whatsapp)
