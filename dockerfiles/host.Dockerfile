# The host itself (`inbox serve`) as a container image: the sweeper, the HTTP API, and a runner container per
# session, started through the container engine's socket mounted from the machine. docs/operations.md has the
# mounts it needs and compose.yaml puts it beside PostgreSQL.
#
# The build context is a folder of wheels: the project's own and its dependencies', built for the image's Python
# (3.11 here) and architecture. From a checkout:
#
#   pip wheel -w wheels .
#   docker build -f dockerfiles/host.Dockerfile -t inbox-host wheels/
#
# With OFFLINE=1 nothing but those wheels is used (CI builds this way from a Debian base made offline:
# `python3 -m scripts.host_image`); without it pip fetches from the index whatever the folder lacks.
# BASE is any image with python3 (3.11 or newer) and its venv module.
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG OFFLINE=0

COPY . /tmp/wheels/
RUN python3 -m venv /opt/inbox \
 && if [ "$OFFLINE" = 1 ]; then set -- --no-index; else set --; fi \
 && /opt/inbox/bin/pip install --no-cache-dir --disable-pip-version-check "$@" --find-links /tmp/wheels \
      inbox-scheduler \
 && rm -rf /tmp/wheels \
 && mkdir -p /var/lib/inbox

# INBOX_HOME: mount the machine's folder at the same path inside (see docs/operations.md) and set it to that path.
ENV PATH=/opt/inbox/bin:/usr/local/bin:/usr/bin:/bin \
    INBOX_HOME=/var/lib/inbox \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/inbox
EXPOSE 8080
LABEL org.inbox.role=host
STOPSIGNAL SIGTERM
ENTRYPOINT ["inbox"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
