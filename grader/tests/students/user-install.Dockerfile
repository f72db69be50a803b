# Modeled on a public submission: `pip install --user` in a builder, the
# user site copied across, labels and env from build arguments, and the app
# started as `python app.py`. Flask's development server installs no SIGTERM
# handler, so as PID 1 it ignores `docker stop` until the kill: fails sigterm.
FROM image-lab-test/python:3.11-slim AS builder
COPY requirements.txt .
RUN pip install --no-cache-dir --user -r requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN
ARG LAB_TOKEN
LABEL org.lab.login=$LAB_LOGIN \
      org.lab.token=$LAB_TOKEN
RUN useradd --create-home appuser
WORKDIR /app
COPY --from=builder /root/.local /home/appuser/.local
COPY --chown=appuser:appuser app.py healthcheck.py ./
ENV PATH="/home/appuser/.local/bin:$PATH" \
    ROCKET_SIZE="Small" \
    LAB_LOGIN=$LAB_LOGIN \
    LAB_TOKEN=$LAB_TOKEN
USER appuser
HEALTHCHECK --interval=3s --timeout=3s --start-period=5s --retries=3 \
    CMD python healthcheck.py || exit 1
CMD ["python", "app.py"]
