# The labels from build arguments, but the arguments never reach the
# environment: /proof signs "unknown:unknown". Fails proof only.
FROM image-lab-test/python:3.11-slim AS deps
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN org.lab.token=$LAB_TOKEN
COPY --from=deps /venv /venv
COPY app.py healthcheck.py /app/
WORKDIR /app
USER 10001
HEALTHCHECK --interval=3s CMD ["/venv/bin/python", "healthcheck.py"]
CMD ["/venv/bin/gunicorn", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "app:app"]
