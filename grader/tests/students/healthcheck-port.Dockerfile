# A HEALTHCHECK that probes port 5000 while gunicorn listens on 8000: it is
# configured but never turns healthy. Fails healthcheck only.
FROM image-lab-test/python:3.11-slim AS deps
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN org.lab.token=$LAB_TOKEN
ENV LAB_LOGIN=$LAB_LOGIN LAB_TOKEN=$LAB_TOKEN PATH=/venv/bin:$PATH
COPY --from=deps /venv /venv
COPY app.py healthcheck.py /app/
WORKDIR /app
USER nobody
HEALTHCHECK --interval=2s --timeout=5s --retries=2 CMD ["python", "healthcheck.py", "5000"]
ENTRYPOINT ["gunicorn", "-b", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "app:app"]
