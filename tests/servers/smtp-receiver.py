#!/usr/bin/python3
"""A real SMTP server for the tests (aiosmtpd, Debian's python3-aiosmtpd).

    smtp-receiver.py FOLDER [--auth USER:PASSWORD] [--reply CODES]

Listens on 127.0.0.1, on a port the system picks, and prints that port on
one line once it accepts connections. Each message it accepts is stored in
FOLDER as N.eml, its bytes exactly as received (after SMTP dot-unstuffing),
with N.json beside it: {"mail_from", "rcpt_tos", "authenticated", "helo"}.
The .json is written last: a reader that sees it sees a complete message.

--auth USER:PASSWORD  require AUTH (PLAIN or LOGIN, allowed without TLS)
                      with these credentials before MAIL
--reply CODES         answers to the DATA of successive messages, comma
                      separated (e.g. "451,250"): a 4xx or 5xx refuses that
                      message (it is not stored); once the list is used up,
                      every message is accepted with 250
It stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import json
import os
import logging
import signal
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    def __init__(self, folder, replies):
        self.folder = folder
        self.replies = list(replies)
        self.count = 0

    def _write(self, name, data):
        tmp = os.path.join(self.folder, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.folder, name))

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            code = self.replies.pop(0)
            if code != 250:
                return f"{code} scripted refusal ({code})"
        self.count += 1
        n = self.count
        self._write(f"{n}.eml", envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "helo": session.host_name,
        }
        self._write(f"{n}.json", json.dumps(meta).encode())
        return "250 OK stored as message " + str(n)


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd answers 535 itself on a failure.
        return AuthResult(success=ok, handled=False)
    return authenticate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--auth")
    parser.add_argument("--reply", default="")
    args = parser.parse_args()
    # AUTH without TLS is what the tests want; aiosmtpd warns about it.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    replies = [int(c) for c in args.reply.split(",") if c.strip()]
    store = Store(args.folder, replies)
    options = {"hostname": "receiver.test", "data_size_limit": 10 * 1024 * 1024}
    if args.auth:
        user, _, password = args.auth.partition(":")
        options.update(authenticator=make_authenticator(user, password),
                       auth_required=True, auth_require_tls=False)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(store, loop=loop, **options), "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print(port, flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
