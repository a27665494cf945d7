# syntax=docker/dockerfile:1
# One chat-server instance per container. docker-compose.yml runs two of them behind
# HAProxy with PostgreSQL and Redis; any orchestrator can do the same with the variables of
# README.md § Configuration (DATABASE_URL, REDIS_URL and JWT_SECRET at least).
#
#   docker build -t chat-server .
#   docker run -e DATABASE_URL=... -e REDIS_URL=... -e JWT_SECRET=... -p 8080:8080 chat-server

# Build stage: the wheel, from the package sources only. It is the whole server: code, SQL
# (sql/ ships as chat_server.sql), the web UI with its vendored Socket.IO client and
# haproxy.cfg (chat_server/haproxy.cfg links to it), so the image needs neither the
# sources nor Node.js.
FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.cfg README.md haproxy.cfg ./
COPY schemas ./schemas
COPY sql ./sql
COPY chat_server ./chat_server
RUN pip wheel --no-deps --wheel-dir /dist .
# The exact versions CI tests (requirements/lock.txt): the image runs what was tested.
COPY requirements/lock.txt /dist/lock.txt

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user runs the server; it owns nothing but its data directory.
RUN groupadd --system --gid 10001 chat \
    && useradd --system --uid 10001 --gid chat --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin chat

WORKDIR /app
# Installed from the wheel (not an editable checkout): what `pip install chat-server` gives.
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install -c /tmp/dist/lock.txt /tmp/dist/*.whl \
    && rm -rf /tmp/dist \
    && mkdir -p /data/uploads \
    && chown -R chat:chat /data

# Production defaults; DATABASE_URL, REDIS_URL and JWT_SECRET come from the deployment.
ENV CHAT_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    UPLOAD_DIR=/data/uploads

USER chat
VOLUME ["/data/uploads"]
EXPOSE 8080

# Liveness: the process and its event loop answer. Readiness (/health/ready: database,
# Redis, listener, not draining) is the load balancer's check, see haproxy.cfg.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8080'), timeout=2)"]

# SIGTERM (docker stop) drains: readiness fails, clients are told `server_shutdown` and
# moved to the other instances, in-flight writes finish. Give it stop_grace_period >= 30s.
STOPSIGNAL SIGTERM
CMD ["chat-server", "serve"]
