# Modeled on reports that start the app with Flask's own command: `flask run`
# listens on 127.0.0.1 unless given --host 0.0.0.0, so inside the container
# its HEALTHCHECK reaches it and nothing outside does. Fails what needs an
# answer, for that one reason. Flask's development server has no SIGTERM
# handler either: as PID 1 it ignores `docker stop` until the kill.
FROM image-lab-test/python:3.11-slim AS deps
WORKDIR /app
COPY requirements.txt .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN org.lab.token=$LAB_TOKEN
ENV LAB_LOGIN=$LAB_LOGIN LAB_TOKEN=$LAB_TOKEN PATH=/venv/bin:$PATH FLASK_APP=app
RUN useradd --uid 10001 --no-create-home app
COPY --from=deps /venv /venv
WORKDIR /app
COPY app.py healthcheck.py ./
USER app
EXPOSE 8000
HEALTHCHECK --interval=3s --timeout=3s --retries=3 CMD ["python", "healthcheck.py"]
CMD ["flask", "run", "--port", "8000"]
