# HEALTHCHECK probe for an image without curl: exit 0 when GET /health answers 200.
import sys
import urllib.request

port = sys.argv[1] if len(sys.argv) > 1 else "8000"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
        sys.exit(0 if answer.status == 200 else 1)
except Exception as error:
    print(f"unhealthy: {error}")
    sys.exit(1)
