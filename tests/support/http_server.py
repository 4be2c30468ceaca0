"""A small HTTP server for the download tests: serves a folder on 127.0.0.1, with paths that fail
on purpose. Standard library only; run with any Python 3.

    http_server.py ROOT [--log FILE] [--lifetime SECONDS]

Prints the port it listens on (one line) and serves until killed or until the lifetime ends.
Paths (NAME is a file under ROOT):
    /NAME                 the file, or 404 when there is none
    /status/CODE/NAME     always answers CODE with an empty body
    /truncated/NAME       announces the whole file's Content-Length, sends half of it, closes
    /fail-once/NAME       503 on the first request for this path, the file afterwards
    /truncate-once/NAME   truncated on the first request for this path, the file afterwards
Each request appends "PATH STATUS" as one line to the log file, flushed at once.
"""

import argparse
import http.server
import os
import pathlib
import sys
import threading


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--log")
    parser.add_argument("--lifetime", type=float, default=120.0)
    args = parser.parse_args()
    root = pathlib.Path(args.root).resolve()
    seen = set()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *values):
            pass

        def record(self, status):
            if args.log:
                with lock, open(args.log, "a") as log:
                    log.write(f"{self.path} {status}\n")

        def first_time(self):
            with lock:
                first = self.path not in seen
                seen.add(self.path)
                return first

        def answer(self, status):
            self.record(status)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def send_file(self, name, cut):
            file = (root / name).resolve()
            if root not in file.parents or not file.is_file():
                self.answer(404)
                return
            body = file.read_bytes()
            self.record(200)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if cut else body)
            if cut:
                self.wfile.flush()
                self.close_connection = True

        def do_GET(self):
            parts = self.path.lstrip("/").split("/")
            if len(parts) == 3 and parts[0] == "status" and parts[1].isdigit():
                self.answer(int(parts[1]))
            elif len(parts) == 2 and parts[0] == "truncated":
                self.send_file(parts[1], cut=True)
            elif len(parts) == 2 and parts[0] == "fail-once":
                if self.first_time():
                    self.answer(503)
                else:
                    self.send_file(parts[1], cut=False)
            elif len(parts) == 2 and parts[0] == "truncate-once":
                self.send_file(parts[1], cut=self.first_time())
            else:
                self.send_file("/".join(parts), cut=False)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    timer = threading.Timer(args.lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
