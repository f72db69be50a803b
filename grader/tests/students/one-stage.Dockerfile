# Modeled on a public submission: one stage, the identity written into the
# file, root for the install and a numeric USER at the end. Everything works;
# only the multi-stage criterion fails.
FROM image-lab-test/python:3.11-slim
WORKDIR /opt/app
STOPSIGNAL SIGTERM
LABEL org.lab.login=one-stage org.lab.token=ce9e7b7e1be41d87f1bb3d05006c2722
ENV LAB_LOGIN=one-stage LAB_TOKEN=ce9e7b7e1be41d87f1bb3d05006c2722

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py healthcheck.py ./

ENTRYPOINT ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "app:app"]
HEALTHCHECK --interval=3s CMD python healthcheck.py
USER 1000
