#!/usr/bin/env bash
# Build the real Dockerfile and run the installed bot inside the image: `appealdesk --help`,
# `appealdesk demo` (the offline story) and `appealdesk check`; with --postgres also
# `migrate status`, `migrate apply` and `check` against a throwaway PostgreSQL server on
# 127.0.0.1 (host network). Exits non-zero on any failure.
# No Docker daemon needed: Debian's buildah, as root, with the vfs driver and chroot isolation.
#
#   apt-get install buildah            # and mmdebstrap for --local-base
#   deploy/test-image.sh               # FROM python:3.11-slim (needs a container registry)
#   deploy/test-image.sh --local-base  # FROM a Debian bookworm base made here (no registry)
#   BASE_IMAGE=registry.example/python:3.11-slim deploy/test-image.sh
#   deploy/test-image.sh --local-base --postgres   # and against PostgreSQL (Debian's 15)
#
# --local-base makes the base with `mmdebstrap --variant=minbase --include=python3,
# python3-venv,ca-certificates bookworm` (reused from $WORK_DIR/bookworm-base.tar when there)
# and imports it as localhost/appealdesk-base:bookworm; that base trusts the host's local
# CAs too. The build still needs a Python package index (pip installs the dependencies).
# Slow (minutes): not part of .ci/run.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK_DIR=${WORK_DIR:-/var/tmp/appealdesk-image}
IMAGE=${IMAGE:-localhost/appealdesk:test}
LOCAL_BASE=localhost/appealdesk-base:bookworm
BASE_IMAGE=${BASE_IMAGE:-}
KEEP=0
PG=0
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --local-base) BASE_IMAGE=$LOCAL_BASE; MAKE_BASE=1 ;;
        --base-image) BASE_IMAGE=$2; shift ;;
        --keep) KEEP=1 ;;  # keep the working container (the image is always kept)
        --postgres) PG=1 ;;
        -h|--help) usage 0 ;;
        *) echo "test-image.sh: unknown argument $1" >&2; usage 2 ;;
    esac
    shift
done
MAKE_BASE=${MAKE_BASE:-0}

for tool in buildah $([ "$MAKE_BASE" = 1 ] && echo mmdebstrap); do
    command -v "$tool" > /dev/null || {
        echo "test-image.sh: $tool is missing (apt-get install $tool)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "test-image.sh: run as root (buildah with vfs)" >&2; exit 2; }
if [ "$PG" = 1 ]; then
    [ -x "$PG_BIN/initdb" ] && id postgres > /dev/null 2>&1 || {
        echo "test-image.sh: --postgres needs $PG_BIN/initdb and a postgres user" \
            "(apt-get install postgresql)" >&2; exit 2; }
fi

B=(buildah --storage-driver vfs)
mkdir -p "$WORK_DIR"
SUMMARY=()
exec 3>&2  # progress lines, apart from the outputs the steps redirect
step() {  # step "what" command...: run it, time it, remember the line; its exit status
    local what=$1 start end rc=0; shift
    echo "== $what: $*" >&3
    start=$(date +%s.%N)
    "$@" || rc=$?
    end=$(date +%s.%N)
    SUMMARY+=("$(awk -v w="$what" -v s="$start" -v e="$end" -v c="$*" \
        'BEGIN { printf "%-24s %6.1f s  %s", w, e - s, c }')")
    return "$rc"
}

# The images of a last run (vfs keeps full copies): replaced, not kept twice.
"${B[@]}" rmi "$IMAGE" > /dev/null 2>&1 || true

if [ "$MAKE_BASE" = 1 ]; then
    TAR=$WORK_DIR/bookworm-base.tar
    if [ ! -s "$TAR" ]; then
        # The host's own CAs (/usr/local/share/ca-certificates: a TLS-inspecting proxy on
        # the way to the package index) are trusted in the base as on the host.
        HOOKS=()
        if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
            HOOKS=(--customize-hook='cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"'
                   --customize-hook='chroot "$1" update-ca-certificates')
        fi
        step "mmdebstrap base" mmdebstrap --variant=minbase --format=tar "${HOOKS[@]}" \
            --include=python3,python3-venv,ca-certificates bookworm "$TAR.part"
        mv "$TAR.part" "$TAR"
    fi
    # Import the root file system as an image (what `podman import` does), with buildah.
    mkdir -p "$WORK_DIR/base"
    ln -f "$TAR" "$WORK_DIR/base/rootfs.tar" 2> /dev/null || cp "$TAR" "$WORK_DIR/base/rootfs.tar"
    printf 'FROM scratch\nADD rootfs.tar /\nENV PATH=%s\nCMD ["/bin/bash"]\n' \
        /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin > "$WORK_DIR/base/Containerfile"
    "${B[@]}" rmi "$LOCAL_BASE" > /dev/null 2>&1 || true
    step "import base" "${B[@]}" bud --isolation chroot --quiet -f "$WORK_DIR/base/Containerfile" \
        -t "$LOCAL_BASE" "$WORK_DIR/base"
fi

BUILD_ARGS=()
[ -n "$BASE_IMAGE" ] && BUILD_ARGS=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
step "build image" "${B[@]}" bud --isolation chroot "${BUILD_ARGS[@]}" -f "$ROOT/Dockerfile" \
    -t "$IMAGE" "$ROOT"

CTR=$("${B[@]}" from --pull=never "$IMAGE")
PG_DIR=
as_postgres() { runuser -u postgres -- "$@"; }
cleanup() {
    if [ -n "$PG_DIR" ]; then
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop > /dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
    [ "$KEEP" = 1 ] || "${B[@]}" rm "$CTR" > /dev/null
}
trap cleanup EXIT
RUN=("${B[@]}" run --isolation chroot "$CTR" --)
OUT=$WORK_DIR/out
mkdir -p "$OUT"

failed=0
expect() {  # expect FILE TEXT: the output holds TEXT
    grep -qF -- "$2" "$1" || { echo "test-image.sh: '$2' missing from $1" >&2; failed=1; }
}
no_traceback() {
    ! grep -q -e Traceback -e ModuleNotFoundError "$1" || {
        echo "test-image.sh: a traceback in $1" >&2; failed=1; }
}

step "appealdesk --help" "${RUN[@]}" appealdesk --help > "$OUT/help.txt" 2>&1
expect "$OUT/help.txt" "demo"

step "appealdesk demo" "${RUN[@]}" appealdesk demo > "$OUT/demo.txt" 2>&1 || failed=1
for line in "诉求已提交" "编号：SQ-2026-000001" "已导入 29 项整改任务。" "演示结束"; do
    expect "$OUT/demo.txt" "$line"
done
no_traceback "$OUT/demo.txt"

# No BOT_TOKEN: the token line fails (status 1); every other line must be ok or warn.
status=0
step "appealdesk check" "${RUN[@]}" appealdesk check > "$OUT/check.txt" 2>&1 || status=$?
[ "$status" = 1 ] || { echo "test-image.sh: check exited $status" >&2; failed=1; }
expect "$OUT/check.txt" "database: /data/appealdesk.sqlite3"
[ "$(grep -c '^FAIL' "$OUT/check.txt")" = 1 ] && expect "$OUT/check.txt" "FAIL  token:"
no_traceback "$OUT/check.txt"

# A database it cannot use: one line naming the file, status 1, before Telegram is contacted.
status=0
step "appealdesk run (no db)" "${B[@]}" run --isolation chroot --env BOT_TOKEN=1:image-test \
    --env DATABASE_URL=sqlite:////data/not-mounted/appealdesk.sqlite3 "$CTR" -- appealdesk run \
    > "$OUT/run.txt" 2>&1 || status=$?
[ "$status" != 0 ] || { echo "test-image.sh: run exited 0" >&2; failed=1; }
expect "$OUT/run.txt" "appealdesk: database: /data/not-mounted/appealdesk.sqlite3 cannot be opened"
no_traceback "$OUT/run.txt"

if [ "$PG" = 1 ]; then
    # A throwaway server on 127.0.0.1 (a free port, a temp folder, password logins over TCP),
    # one role owning one database as docs/operations.md makes them; the image reaches it
    # through the host's network. Its password goes in as PGPASSWORD, never in the URL.
    PG_DIR=$(mktemp -d /tmp/appealdesk-image-pg.XXXXXX)
    chown postgres "$PG_DIR" && chmod 700 "$PG_DIR"
    PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    PG_PASSWORD=image-test-$RANDOM$RANDOM
    step "postgres: start" as_postgres sh -c "'$PG_BIN/initdb' -D '$PG_DIR/data' -U postgres \
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 --no-sync \
        > /dev/null && '$PG_BIN/pg_ctl' -D '$PG_DIR/data' -l '$PG_DIR/server.log' -w -o \
        '-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off' start > /dev/null"
    as_postgres "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -qc \
        "CREATE ROLE appealdesk LOGIN PASSWORD '$PG_PASSWORD'"
    as_postgres "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" --owner appealdesk \
        --encoding UTF8 --template template0 appealdesk
    PG_URL="postgresql://appealdesk@127.0.0.1:$PG_PORT/appealdesk?sslmode=disable"
    PG_RUN=("${B[@]}" run --isolation chroot --network host --env "PGPASSWORD=$PG_PASSWORD"
            --env "DATABASE_URL=$PG_URL" "$CTR" --)

    status=0
    step "postgres: migrate status" "${PG_RUN[@]}" appealdesk migrate status \
        > "$OUT/pg-status.txt" 2>&1 || status=$?
    [ "$status" = 1 ] || { echo "test-image.sh: migrate status exited $status" >&2; failed=1; }
    expect "$OUT/pg-status.txt" "applied: none"
    step "postgres: migrate apply" "${PG_RUN[@]}" appealdesk migrate apply \
        > "$OUT/pg-apply.txt" 2>&1 || failed=1
    expect "$OUT/pg-apply.txt" "(current)"
    status=0
    step "postgres: check" "${PG_RUN[@]}" appealdesk check > "$OUT/pg-check.txt" 2>&1 || status=$?
    [ "$status" = 1 ] || { echo "test-image.sh: check exited $status" >&2; failed=1; }
    expect "$OUT/pg-check.txt" "reachable (PostgreSQL"
    [ "$(grep -c '^FAIL' "$OUT/pg-check.txt")" = 1 ] && expect "$OUT/pg-check.txt" "FAIL  token:"
    for f in pg-status pg-apply pg-check; do no_traceback "$OUT/$f.txt"; done
fi

user=$("${RUN[@]}" id -un)
python=$("${RUN[@]}" python3 -c 'import sys, bot; print(sys.version.split()[0], bot.__file__)')

echo
echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "base image:   ${BASE_IMAGE:-python:3.11-slim, the default of the Dockerfile}"
echo "image:        $IMAGE, $("${B[@]}" images --format '{{.Size}}' "$IMAGE" | head -1)"
echo "runs as:      $user; python $python"
echo "demo:"
for line in "诉求已提交" "已导入 29 项整改任务。" "演示结束"; do
    grep -m1 -F "$line" "$OUT/demo.txt" | sed 's/^/  /'
done
echo "check:"
grep -E '^(ok|warn|FAIL) ' "$OUT/check.txt" | sed 's/^/  /'
echo "run on a database it cannot use:"
grep -F 'appealdesk:' "$OUT/run.txt" | sed 's/^/  /'
if [ "$PG" = 1 ]; then
    echo "postgresql (a throwaway server on 127.0.0.1:$PG_PORT):"
    grep -hE '^(database|applied|pending|ok    database|FAIL)' \
        "$OUT/pg-status.txt" "$OUT/pg-apply.txt" "$OUT/pg-check.txt" | sed 's/^/  /'
fi
if [ "$failed" = 0 ]; then
    echo "image test: OK"
else
    echo "image test: FAILED (outputs in $OUT)" >&2
fi
exit "$failed"
