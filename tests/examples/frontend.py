"""A tiny app in front of a backend, for the example with two servers.

    GET /health    200 `ok`, without asking the backend
    GET /<path>    asks the backend at $BACKEND_URL for the same path and answers
                   `frontend got: <the backend's status> <the backend's body>`

It listens on 127.0.0.1 at $PORT. Standard library only.

    BACKEND_URL=http://127.0.0.1:8001 PORT=8000 python3 tests/examples/frontend.py
"""

import os
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BACKEND_URL = os.environ["BACKEND_URL"]


class Frontend(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self.answer(200, "ok")
            return
        try:
            with urllib.request.urlopen(BACKEND_URL + self.path, timeout=10) as reply:
                status, body = reply.status, reply.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode()
        self.answer(200, f"frontend got: {status} {body}")

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Frontend).serve_forever()
