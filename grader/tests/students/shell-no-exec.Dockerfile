# The same as venv-two-stage but for the command, in shell form without
# `exec`: /bin/sh stays PID 1, ignores SIGTERM and is killed after 10 s.
# Fails sigterm only.
FROM image-lab-test/python:3.11-slim AS deps
RUN python -m venv /venv
COPY requirements.txt .
RUN /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN org.lab.token=$LAB_TOKEN
ENV LAB_LOGIN=$LAB_LOGIN LAB_TOKEN=$LAB_TOKEN
COPY --from=deps /venv /venv
COPY app.py healthcheck.py /app/
WORKDIR /app
USER 10001:10001
HEALTHCHECK --interval=3s --timeout=3s CMD ["/venv/bin/python", "healthcheck.py"]
CMD /venv/bin/gunicorn --bind 0.0.0.0:8000 --worker-tmp-dir /dev/shm app:app
