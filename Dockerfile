# AppealDesk in a container: small (python slim), not root, the SQLite file on a volume by
# default; with the PostgreSQL driver, so DATABASE_URL=postgresql://… in the env file (and
# PGPASSWORD) moves the data to a server instead (docs/operations.md, "PostgreSQL").
#   docker build -t appealdesk .
#   docker run -d --name appealdesk --restart unless-stopped \
#     --env-file /etc/appealdesk/appealdesk.env -v appealdesk-data:/data appealdesk
# The base is a build argument: any Debian-like image with python3 (3.11+) and its venv
# module, e.g. a local bookworm base made with mmdebstrap (deploy/test-image.sh --local-base):
#   docker build --build-arg BASE_IMAGE=localhost/appealdesk-base:bookworm -t appealdesk .
# Both stages use the same base, so the venv built in the first runs unchanged in the second
# (same interpreter at the same path); the base needs no pip of its own.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml MANIFEST.in README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
# A wheel built from the source, installed (not linked) into its own venv.
RUN python3 -m venv /opt/appealdesk \
    && /opt/appealdesk/bin/pip install --no-cache-dir --disable-pip-version-check "/src[postgresql,server]" \
    && /opt/appealdesk/bin/appealdesk --help > /dev/null

FROM ${BASE_IMAGE}
COPY --from=build /opt/appealdesk /opt/appealdesk
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin appealdesk \
    && mkdir -p /data && chown appealdesk /data
USER appealdesk
WORKDIR /data
# PATH in full: a base imported from a root file system tar has none to extend.
ENV PATH=/opt/appealdesk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DATABASE_URL=sqlite:////data/appealdesk.sqlite3 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/data/.matplotlib
VOLUME ["/data"]
# `appealdesk check` as the health check would call Telegram every time; the process
# itself is the health: it exits with a one-line reason when it cannot go on.
ENTRYPOINT ["appealdesk"]
CMD ["run"]
