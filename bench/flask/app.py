"""The lab's original Flask service, rewritten faithfully from its HTTP
contract: the Python peer of `cargo xtask bench`. Never shipped.

Served two ways by the benchmark:
  python app.py                                   Flask's own threaded server
  gunicorn -w 2 -b 127.0.0.1:PORT app:app         gunicorn, 2 sync workers
"""

import hashlib
import hmac
import os
import signal
import sys
import time

from flask import Flask, jsonify

START = time.time()

ROCKET_SIZE = os.environ.get("ROCKET_SIZE", "Small")
LAB_LOGIN = os.environ.get("LAB_LOGIN", "unknown")
LAB_TOKEN = os.environ.get("LAB_TOKEN", "unknown")
SECRET = os.environ.get("SECRET", "")

app = Flask(__name__)


@app.route("/")
def index():
    return f"Hello from Docker! Rocket={ROCKET_SIZE}\n"


@app.route("/health")
def health():
    return jsonify({"status": "ok", "uptime": round(time.time() - START, 2)})


@app.route("/proof")
def proof():
    if not SECRET:
        return jsonify({"error": "no-secret"}), 400
    message = f"{LAB_LOGIN}:{LAB_TOKEN}".encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    return jsonify({"login": LAB_LOGIN, "ok": True, "proof": digest})


def handle_sigterm(signum, frame):
    print("Shutting down...", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    # Only under Flask's own server, as the original is run. Under gunicorn
    # the workers' own SIGTERM handling (finish the request at hand, then
    # exit) is left alone: a sys.exit() raised inside a request is caught by
    # gunicorn's sync worker ("Error handling request ... SystemExit"), which
    # then keeps serving until the master's 30 s graceful timeout kills it.
    signal.signal(signal.SIGTERM, handle_sigterm)
    # HOST is this rewrite's only addition (the benchmark binds 127.0.0.1);
    # the default 0.0.0.0 is the original's.
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8000")))
