# The hostile image of text: its labels (`--build-arg LABEL_TEXT=...`), its
# healthcheck's output and its answers carry what would break out of a
# report (see TEXT in hostile.py). Non-root, as a real submission.
FROM image-lab-test/python:3.11-slim
ARG LABEL_TEXT
LABEL org.lab.login=$LABEL_TEXT org.lab.token=$LABEL_TEXT
ENV PYTHONUNBUFFERED=1
COPY hostile.py /
USER 10001
HEALTHCHECK --interval=2s --timeout=2s --retries=2 CMD ["python", "/hostile.py", "healthcheck-text"]
CMD ["python", "/hostile.py", "text"]
