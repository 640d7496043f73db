# eTest's container image: `etest serve` by default; the outbox worker is the same image with the
# command `etest worker` (compose.yaml runs both). docs/container.md says how to build and run it.
#
#   podman build --format docker -t etest .          # or: docker build -t etest .
#
# Build arguments:
#   BASE     the base of both stages; any Debian-like image with Python 3.11, `python3 -m venv`
#            and useradd. Default: the official slim image. Where no registry is reachable,
#            scripts/container_base makes localhost/etest-base:bookworm from Debian's packages.
#   OFFLINE  1: install only from the wheels in deploy/wheels/ (pip --no-index); scripts/
#            container_smoke fills it on the host when the build cannot reach PyPI itself.
#
# `--format docker` (podman): the OCI format has no HEALTHCHECK, so podman would drop it.

ARG BASE=python:3.11-slim-bookworm

# -- deps: a virtual environment at /opt/etest with eTest's dependencies ----------------------
FROM ${BASE} AS deps
ARG OFFLINE=0
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# `python3`, not `python`: Debian's own python3 has no `python` command, the official image has
# both. The runtime stage uses the same base, so the venv's interpreter link holds there too.
RUN python3 -m venv /opt/etest
WORKDIR /src
# From pyproject.toml alone: a change of the code leaves this stage (and the runtime layer made
# from it, the bulk of the image) to the cache, so such a rebuild takes seconds.
COPY deploy/wheels/ /wheels/
COPY pyproject.toml ./
RUN set -eu; \
    if [ "$OFFLINE" = 1 ]; then set -- --no-index; else set --; fi; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt; \
    /opt/etest/bin/pip install --quiet "$@" --find-links /wheels --upgrade pip; \
    /opt/etest/bin/pip install --quiet "$@" --find-links /wheels -r /tmp/requirements.txt

# -- builder: eTest itself as a wheel (its migrations inside) ----------------------------------
FROM deps AS builder
ARG OFFLINE=0
COPY README.md LICENSE ./
COPY src ./src
RUN set -eu; \
    if [ "$OFFLINE" = 1 ]; then set -- --no-index; else set --; fi; \
    /opt/etest/bin/pip wheel --quiet "$@" --find-links /wheels --no-deps --wheel-dir dist .

# -- runtime: the venv, a non-root user, nothing else ----------------------------------------
FROM ${BASE} AS runtime
ENV PATH=/opt/etest/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ETEST_ENV=prod \
    ETEST_HOST=0.0.0.0 \
    ETEST_PORT=8000 \
    ETEST_VAR_DIR=/var/lib/etest \
    ETEST_LOG_JSON=true
# a fixed uid, so a volume's owner is the same in every container of the image
RUN groupadd --gid 10001 etest \
 && useradd --uid 10001 --gid etest --home-dir /var/lib/etest --no-create-home \
      --shell /usr/sbin/nologin etest \
 && install -d -o etest -g etest -m 0750 /var/lib/etest
COPY --from=deps /opt/etest /opt/etest
# (COPY, not a RUN bind mount: buildah's cache notices a changed COPY source, not a changed mount)
COPY --from=builder /src/dist /dist
RUN set -eu; \
    /opt/etest/bin/pip install --quiet --no-index --no-deps /dist/etest-*.whl; \
    rm -rf /dist; \
    /opt/etest/bin/etest --help >/dev/null
# media, the signing keys and (without ETEST_SECRET_KEY) the digest pepper live here: share it
# between the app replicas and the worker, and keep it across upgrades
VOLUME ["/var/lib/etest"]
WORKDIR /var/lib/etest
USER etest
EXPOSE 8000
# liveness over loopback with the image's own Python (slim images have no curl); /health needs
# no database, so a database outage shows in /ready and the 503s, not in a restart loop
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('ETEST_PORT', '8000'), timeout=4).status == 200 else 1)"]
CMD ["etest", "serve", "--host", "0.0.0.0"]
