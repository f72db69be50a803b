# Modeled on a public submission: gunicorn with its default worker temporary
# directory, which it looks for on the root filesystem and does not find
# there with --read-only ("No usable temporary directory found"). Otherwise
# it works: fails read-only only.
FROM image-lab-test/python:3.11-slim AS builder
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN org.lab.token=$LAB_TOKEN
ENV LAB_LOGIN=$LAB_LOGIN LAB_TOKEN=$LAB_TOKEN PYTHONUNBUFFERED=1
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
RUN useradd --uid 1001 appuser
WORKDIR /app
COPY app.py healthcheck.py ./
USER appuser
HEALTHCHECK --interval=3s --timeout=3s --start-period=3s --retries=2 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://localhost:8000/health')"
ENTRYPOINT ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "1", "--timeout", "30", "app:app"]
