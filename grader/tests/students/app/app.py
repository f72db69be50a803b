# The lab's mini-service as students hand it in: Flask, configured by the
# environment, no SIGTERM handler of its own (gunicorn has one; a bare Python
# PID 1 has none, which is what the sigterm criterion shows).
import hashlib
import hmac
import os
import time

from flask import Flask, jsonify

START = time.time()
app = Flask(__name__)


@app.route("/")
def index():
    rocket = os.environ.get("ROCKET_SIZE", "Small")
    return f"Hello from Docker! Rocket={rocket}\n"


@app.route("/health")
def health():
    return jsonify(status="ok", uptime=round(time.time() - START, 2))


@app.route("/proof")
def proof():
    secret = os.environ.get("SECRET", "")
    if not secret:
        return jsonify(error="no-secret"), 400
    login = os.environ.get("LAB_LOGIN", "unknown")
    token = os.environ.get("LAB_TOKEN", "unknown")
    digest = hmac.new(secret.encode(), f"{login}:{token}".encode(), hashlib.sha256).hexdigest()
    return jsonify(login=login, ok=True, proof=digest)


if __name__ == "__main__":
    # `python app.py`: Flask's development server, as many reports run it.
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8000")))
