"""A real HTTP/1.1 upstream for proxy tests, run as its own process: `python upstream.py NAME PORT`.

Every response names the backend (`x-backend` header and JSON body) and echoes what arrived, so tests
can see routing, header handling and bodies. Query knobs: status=N, delay=SECONDS, size=BYTES (body of
that many "x"), die=1 (send half a response and drop the connection), chunked=1. `GET /_count` returns
how many requests (other than /_count) this process has served; `/_fail_next?n=N` makes the next N
requests answer 503.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NAME = sys.argv[1]
PORT = int(sys.argv[2])
STATE = {"count": 0, "fail_next": 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one write per response (handle_one_request flushes), or Nagle adds 40 ms
    disable_nagle_algorithm = True

    def log_message(self, *args: object) -> None:
        return None

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self._read_body()
        if url.path == "/_count":
            return self._send(200, json.dumps({"count": STATE["count"]}).encode())
        if url.path == "/_fail_next":
            with LOCK:
                STATE["fail_next"] = int(query.get("n", "1"))
            return self._send(200, b"{}")
        with LOCK:
            STATE["count"] += 1
            failing = STATE["fail_next"] > 0
            if failing:
                STATE["fail_next"] -= 1
        if "delay" in query:
            time.sleep(float(query["delay"]))  # the upstream's own latency knob
        status = 503 if failing else int(query.get("status", "200"))
        if "size" in query:
            payload = b"x" * int(query["size"])
        else:
            payload = json.dumps(
                {
                    "backend": NAME,
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body_length": len(body),
                    "body_sum": sum(body) % 65521,
                }
            ).encode()
        if query.get("die"):
            self.send_response(status)
            self.send_header("content-length", str(len(payload) + 1000))
            self.send_header("x-backend", NAME)
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        return self._send(status, payload, chunked=bool(query.get("chunked")))

    def _send(self, status: int, payload: bytes, chunked: bool = False) -> None:
        self.send_response(status)
        self.send_header("x-backend", NAME)
        self.send_header("content-type", "application/json")
        if chunked:
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            step = max(1, len(payload) // 3)
            for start in range(0, len(payload), step):
                part = payload[start : start + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


if __name__ == "__main__":
    Server(("127.0.0.1", PORT), Handler).serve_forever()
