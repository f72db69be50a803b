"""What a hostile student image does, for the grader's sandbox tests.

`python hostile.py MODE`. Every mode is bounded by itself, so that a bug in
the sandbox cannot take the machine down: at most 1,000 processes, 2 GB,
100 s of printing, and every mode ends after LIFETIME seconds.
"""

import os
import socket
import sys
import time

LIFETIME = 300


def fork():
    """Starts 1,000 sleeping processes, or as many as the pids limit allows."""
    started = 0
    for _ in range(1000):
        try:
            if os.fork() == 0:
                time.sleep(LIFETIME)
                os._exit(0)
            started += 1
        except OSError:
            pass  # the pids limit: stop nothing, keep trying
    print(f"started {started} of 1000 processes", flush=True)
    time.sleep(LIFETIME)


def memory():
    """Fills 2 GB, 64 MB at a time (written, so the pages are really used)."""
    chunks = []
    for index in range(32):
        chunks.append(b"\x01" * (64 << 20))
        print(f"holding {(index + 1) * 64} MB", flush=True)
    time.sleep(LIFETIME)


def silent():
    """Listens on 8000 and accepts every connection, but never answers."""
    server = socket.create_server(("0.0.0.0", 8000), backlog=64)
    server.settimeout(1)
    held = []
    deadline = time.time() + LIFETIME
    while time.time() < deadline:
        try:
            held = held[-500:] + [server.accept()[0]]
        except TimeoutError:
            pass


def flood():
    """Prints numbered 1 kB lines as fast as it can for 100 s."""
    filler = "x" * 1000
    deadline = time.time() + 100
    number = 0
    while time.time() < deadline:
        number += 1
        sys.stdout.write(f"{number} {filler}\n")
    sys.stdout.flush()
    time.sleep(LIFETIME)


# What a grade quotes, made to break out of it: a Markdown cell and code
# span, HTML, a spreadsheet formula, XML, terminal control sequences, and
# more characters than a report should hold.
TEXT = (
    "=HYPERLINK(\"http://127.0.0.1/x\") | cell `span` ``` <script>alert(1)</script> "
    "]]></testcase><b>x</b> &amp; \x1b[2J\x1b[31mred\x07\x00\r\nnext line " + "A" * 3000
)


def text():
    """Answers every GET with TEXT, as an app that quotes its input would."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = TEXT.encode("utf-8", "surrogateescape")
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()


def healthcheck_text():
    """A HEALTHCHECK probe that fails, printing TEXT."""
    print(TEXT, flush=True)
    sys.exit(1)


modes = {"fork": fork, "memory": memory, "silent": silent, "flood": flood, "text": text}
modes["healthcheck-text"] = healthcheck_text
modes[sys.argv[1]]()
