#!/usr/bin/python3
"""A real HTTP server for the tests (Python's http.server).

    http-receiver.py FOLDER [SCRIPT]

Listens on 127.0.0.1, on a port the system picks, and prints that port on
one line once it accepts connections. Every request is recorded in FOLDER,
numbered in arrival order from 1, before it is answered: N.body holds the
body's bytes, then N.json {"method", "path", "headers": [[name, value]...],
"received_at": seconds since the epoch} (written last: a reader that sees
N.json sees the whole request).

SCRIPT says how to answer successive requests, comma separated: a status
code ("429,503,200") or "hang" (never answer: the request stays open until
the client gives up or the server stops). Once the script is used up,
every request gets 200. The default script is empty (always 200).
It stops on SIGTERM or SIGINT.
"""

import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"count": 0, "script": [], "folder": "."}
stop = threading.Event()


def write(name, data):
    tmp = os.path.join(state["folder"], "." + name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(state["folder"], name))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        with lock:
            state["count"] += 1
            n = state["count"]
            answer = state["script"].pop(0) if state["script"] else "200"
        write(f"{n}.body", body)
        record = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "received_at": time.time(),
        }
        write(f"{n}.json", json.dumps(record).encode())
        if answer == "hang":
            stop.wait()
            return
        status = int(answer)
        text = f"scripted answer {status} to request {n}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_POST = handle_any
    do_PUT = handle_any
    do_GET = handle_any


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    state["folder"] = sys.argv[1]
    if len(sys.argv) == 3:
        state["script"] = [s.strip() for s in sys.argv[2].split(",")
                           if s.strip()]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True

    def on_signal(signum, frame):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
