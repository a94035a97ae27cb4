"""A test run that is killed leaves no PostgreSQL server behind (tests/pg_cluster.py): the
watcher started with the server stops it once the run is gone (SIGTERM or kill -9 of
pytest: no atexit runs), and what a watcher killed too could not clean goes at the next
start (`sweep_leftovers`). Each case starts one real pytest subprocess; none takes the
`backend` fixture, so each runs once, in the PostgreSQL half."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import pg_cluster
from tests.conftest import chosen_backends

REPO = Path(__file__).resolve().parent.parent
REASON = pg_cluster.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

# What the killed run does: start the suite's cluster, say where it is, wait to be killed.
PROBE = textwrap.dedent(
    """
    import json, os, sys, time

    sys.path.insert(0, os.environ["APPEALDESK_REPO"])
    from tests import pg_cluster

    def test_holds_a_cluster():
        cluster = pg_cluster.shared_cluster()
        server = int((cluster.data / "postmaster.pid").read_text().split()[0])
        said = {"folder": str(cluster.folder), "port": cluster.port, "server": server,
                "watcher": cluster.watcher.pid, "pytest": os.getpid()}
        (cluster.folder.parent / "ready.json").write_text(json.dumps(said))
        time.sleep(600)
    """
)


@pytest.fixture
def temp(request) -> Iterator[Path]:
    """A temp folder of the killed run's own (its TMPDIR): no other run's clusters in it.
    Readable by the server's user (pytest's tmp_path is private to this one)."""
    if "postgresql" not in chosen_backends(request.config):
        pytest.skip("about the PostgreSQL test cluster, and PostgreSQL is not chosen")
    folder = Path(tempfile.mkdtemp(prefix="appealdesk-orphans-"))
    folder.chmod(0o755)
    (folder / "test_probe.py").write_text(PROBE)
    (folder / "pytest.ini").write_text("[pytest]\n")
    yield folder
    pg_cluster.sweep_leftovers(folder)  # whatever a failed check left
    shutil.rmtree(folder, ignore_errors=True)


def run_holding_a_cluster(temp: Path) -> tuple[subprocess.Popen[bytes], dict]:
    env = {**os.environ, "TMPDIR": str(temp), "APPEALDESK_REPO": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "pytest.ini",
         "test_probe.py"],
        cwd=temp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ready = temp / "ready.json"
    assert until(lambda: ready.exists() or run.poll() is not None, 120), "no cluster started"
    assert ready.exists(), f"the run ended ({run.returncode}) before its cluster started"
    return run, json.loads(ready.read_text())


def until(condition, seconds: float) -> bool:
    """Whether `condition()` came true within `seconds` (looked at every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def running(pid: int) -> bool:
    return pg_cluster.started_at(pid) is not None


def answers(port: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def test_a_run_killed_with_kill_9_takes_its_server_with_it(temp):
    run, said = run_holding_a_cluster(temp)
    assert answers(said["port"]) and running(said["server"])

    run.kill()
    run.wait(timeout=30)

    assert until(lambda: not running(said["server"]), 30), "the server outlived its run"
    assert until(lambda: not Path(said["folder"]).exists(), 30)
    assert not answers(said["port"])
    assert until(lambda: not running(said["watcher"]), 30)  # its work done, it ends


def test_a_server_left_by_a_run_killed_with_its_watcher_goes_at_the_next_start(temp):
    """SIGTERM ends pytest without its atexit, as kill -9 does; its watcher killed first."""
    run, said = run_holding_a_cluster(temp)
    os.kill(said["watcher"], signal.SIGKILL)
    run.terminate()
    run.wait(timeout=30)
    assert running(said["server"]) and answers(said["port"])  # left behind

    assert pg_cluster.sweep_leftovers(temp) == [Path(said["folder"])]

    assert until(lambda: not running(said["server"]), 30)
    assert not Path(said["folder"]).exists() and not answers(said["port"])


def test_only_the_folders_of_owners_gone_are_swept(temp):
    """A living owner's cluster, a folder naming no owner (another tool's, or one being
    made) and a folder whose pid now belongs to another process stay or go as they must."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    owners = {
        "alive": {"pid": os.getpid(), "started": pg_cluster.started_at(os.getpid())},
        "gone": {"pid": gone.pid, "started": 1},
        "pid-reused": {"pid": os.getpid(), "started": -1},
        "no-owner": None,
    }
    for name, owner in owners.items():
        folder = temp / f"{pg_cluster.PREFIX}{name}"
        (folder / "data").mkdir(parents=True)
        if owner is not None:
            owner["bin"] = str(pg_cluster.bindir())
            (folder / pg_cluster.OWNER).write_text(json.dumps(owner))

    swept = pg_cluster.sweep_leftovers(temp)

    assert sorted(p.name for p in swept) == [
        f"{pg_cluster.PREFIX}gone",
        f"{pg_cluster.PREFIX}pid-reused",
    ]
    left = sorted(p.name for p in temp.glob(f"{pg_cluster.PREFIX}*"))
    assert left == [f"{pg_cluster.PREFIX}alive", f"{pg_cluster.PREFIX}no-owner"]
