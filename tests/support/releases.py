"""A static web server for a releases folder (http.server, Range answered) whose
answers a test can spoil: cut a file short (a Content-Length shorter than the file,
or the connection closed in the middle of the body), die in the middle of one, fill
the kiosk's disk while sending one. Every request it saw is kept, with its Range header."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHUNK = 16 * 1024


class ReleaseServer:
    def __init__(self, releases: Path, port: int = 0):
        self.releases = releases
        # url path -> ("short", n) | ("truncate", n) | ("die", n) | ("fill", file, bytes)
        self.faults: dict[str, tuple] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> ReleaseServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="release-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range")))
                file = server.releases / path
                if ".." in path or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                start = 0
                wanted = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
                if wanted and int(wanted.group(1)) < len(data):
                    start = int(wanted.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                fault = server.faults.get(path)
                body = data[start:]
                if fault and fault[0] == "short":  # an answer that says it is complete at n bytes
                    body = body[:fault[1]]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                if fault and fault[0] in ("truncate", "die"):  # the connection closes n bytes into the body
                    body = body[:fault[1]]
                if fault and fault[0] == "fill":  # the kiosk's disk fills up meanwhile
                    with open(fault[1], "wb") as filler:
                        try:
                            filler.write(b"\0" * fault[2])
                        except OSError:
                            pass
                for offset in range(0, len(body), CHUNK):
                    self.wfile.write(body[offset:offset + CHUNK])
                self.wfile.flush()
                if fault and fault[0] == "die":
                    threading.Thread(target=server.stop, daemon=True).start()
                self.close_connection = True

        return Handler

