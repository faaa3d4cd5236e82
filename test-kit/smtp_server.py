"""A real SMTP server for edgewatch's tests: aiosmtpd on a loopback port the
system picks, STARTTLS required before anything else, and a login (PLAIN or
LOGIN, only over TLS) when one is given.

    python3 smtp_server.py CERT.pem KEY.pem [USER PASSWORD]

It prints {"port": N} once listening, then one JSON line per message as it
arrives: its code (what the server answers, and how many seconds after it
arrived), envelope, headers, decoded text, attachments' names and raw
content, whether TLS was on and who logged in. It reads what to do from
standard input, one command a line:

    fail N CODE TEXT     the next N messages are answered CODE TEXT
    late N SECONDS       the next N messages are answered after SECONDS
    refuse TEXT          every message is answered 550 5.7.1 TEXT until `fix`
    fix
"""

import asyncio
import email
import email.policy
import json
import ssl
import logging
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cert, key = sys.argv[1], sys.argv[2]
login = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None

# aiosmtpd logs a warning about its own deprecated attribute at each login.
logging.getLogger("mail.log").setLevel(logging.ERROR)

faults = []  # (code, text, delay), consumed one a message
refusal = None


def emit(record):
    print(json.dumps(record), flush=True)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        code, text, delay = 250, "2.0.0 OK: queued", 0.0
        if refusal is not None:
            code, text = 550, "5.7.1 " + refusal
        elif faults:
            fault_code, fault_text, delay = faults.pop(0)
            if fault_code is not None:
                code, text = fault_code, fault_text
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        emit({
            "code": code,
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "headers": {name.lower(): str(value) for name, value in mail.items()},
            "body": plain.get_content() if (plain := mail.get_body(preferencelist=("plain",))) else None,
            "attachments": [part.get_filename() for part in mail.iter_attachments()],
            "data": envelope.content.decode("utf-8", "replace"),
            "tls": session.ssl is not None,
            "answered_after": delay,
            "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
        })
        if delay:
            await asyncio.sleep(delay)
        return f"{code} {text}"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        login is not None
        and isinstance(auth_data, LoginPassword)
        and (auth_data.login.decode(), auth_data.password.decode()) == login
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def command(line):
    global refusal
    word, _, rest = line.strip().partition(" ")
    if word == "fail":
        n, code, text = rest.split(" ", 2)
        faults.extend([(int(code), text, 0.0)] * int(n))
    elif word == "late":
        n, seconds = rest.split(" ")
        faults.extend([(None, None, float(seconds))] * int(n))
    elif word == "refuse":
        refusal = rest
    elif word == "fix":
        refusal = None
    elif word:
        print(f"smtp_server.py: unknown command {line!r}", file=sys.stderr, flush=True)


def main():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def smtp():
        return SMTP(
            Handler(),
            hostname="localhost",
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_required=login is not None,
            auth_require_tls=True,
        )

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(smtp, "127.0.0.1", 0))
    emit({"port": server.sockets[0].getsockname()[1]})

    def on_stdin():
        line = sys.stdin.readline()
        if not line:  # the test is gone
            loop.stop()
            return
        command(line)

    loop.add_reader(sys.stdin, on_stdin)
    loop.run_forever()


main()
