#!/usr/bin/env python3
"""Talks to a running compose setup the way a new user does, through its published port:
registers a user with Synapse's shared secret, opens a direct chat with the bridge bot,
waits for its welcome, sends `help` and waits for the list of commands. Exits non-zero,
saying what did not happen, otherwise."""
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request

base, server_name, shared_secret = sys.argv[1], sys.argv[2], sys.argv[3]
bot = f"@whatsappbot:{server_name}"


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


def bot_messages(token, room):
    chunk = call("GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=f&limit=100",
                 token=token)["chunk"]
    return [event["content"].get("body", "") for event in chunk
            if event["type"] == "m.room.message" and event["sender"] == bot]


def wait_for(token, room, needle, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        if any(needle in body for body in bot_messages(token, room)):
            print(f"compose check: {what}")
            return
        time.sleep(1)
    sys.exit(f"compose check: {what} did not happen; the bot said {bot_messages(token, room)}")


token = register("alice", "alice-password-for-the-check")
room = call("POST", "/_matrix/client/v3/createRoom",
            {"invite": [bot], "is_direct": True, "preset": "trusted_private_chat"},
            token=token)["room_id"]
wait_for(token, room, "management room", "the bot joined the direct chat and said hello")
call("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/check-help",
     {"msgtype": "m.text", "body": "help"}, token=token)
wait_for(token, room, "login", "the bot answered help with its commands")
