# AppealDesk in a container: small (python slim), not root, the SQLite file on a volume.
#   docker build -t appealdesk .
#   docker run -d --name appealdesk --restart unless-stopped \
#     --env-file /etc/appealdesk/appealdesk.env -v appealdesk-data:/data appealdesk
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin appealdesk \
    && mkdir -p /data && chown appealdesk /data
USER appealdesk
WORKDIR /data
ENV DATABASE_PATH=/data/appealdesk.sqlite3 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/data/.matplotlib
VOLUME ["/data"]
# `appealdesk check` as the health check would call Telegram every time; the process
# itself is the health: it exits with a one-line reason when it cannot go on.
ENTRYPOINT ["appealdesk"]
CMD ["run"]
