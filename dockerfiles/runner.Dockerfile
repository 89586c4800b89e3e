# The agent runner image: what runs inside each session's container. Build it with `inbox runner build`.
#
# BASE is any image with python3 (3.11 or newer) and its venv module: python:3.12-slim for most people; tests and CI
# use a Debian base built offline (debootstrap, then docker import). The runner needs only httpx and pydantic:
# wheels placed in the context's wheels/ folder are installed without an index, else pip downloads them. Every
# wheel given is installed: a package of workers (the inbox.workers entry points) is added to the image this way.
ARG BASE=python:3.12-slim
FROM ${BASE}

COPY wheels/ /tmp/wheels/
RUN python3 -m venv /opt/runner \
 && if ls /tmp/wheels/*.whl >/dev/null 2>&1; then \
      /opt/runner/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels httpx pydantic /tmp/wheels/*.whl; \
    else \
      /opt/runner/bin/pip install --no-cache-dir httpx pydantic; \
    fi \
 && rm -rf /tmp/wheels \
 && (getent passwd 10001 >/dev/null || echo "runner:x:10001:10001:inbox runner:/workspace:/usr/sbin/nologin" >> /etc/passwd) \
 && (getent group 10001 >/dev/null || echo "runner:x:10001:" >> /etc/group) \
 && mkdir -p /workspace && chown 10001:10001 /workspace

COPY agent_runner/ /opt/inbox/agent_runner/
ENV PATH=/opt/runner/bin:/usr/local/bin:/usr/bin:/bin \
    PYTHONPATH=/opt/inbox \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/workspace
USER 10001:10001
WORKDIR /workspace
LABEL org.inbox.role=runner
# -s -P: the working directory and HOME are the workspace the model's shell writes to: never a source of imports.
ENTRYPOINT ["python3", "-s", "-P", "-m", "agent_runner"]
