"""The install operators use: the sdist and the wheel built from this checkout, the wheel
installed into a fresh venv outside the checkout, and the installed `appealdesk` run from
another folder with a clean environment (no PYTHONPATH, no editable install, no .env)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATIENCE = 600  # a bound against a hang (pip may have to download), not a speed assertion

# What the installed program reads at run time besides its modules.
RUN_TIME_FILES = ("bot/resources/org.toml", "bot/resources/rectification_tasks.csv")


def source_packages() -> set[str]:
    """Every package of the checkout the program is made of (tests and bench are not)."""
    return {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("bot", "handlers", "storage")
        for init in (ROOT / top).rglob("__init__.py")
    }


def clean_env(venv: Path, home: Path) -> dict[str, str]:
    """The caller's environment without anything that could put the checkout (or its
    settings) on the path; pip's own settings (index, cache, proxy) are kept."""
    dropped = ("PYTHON", "VIRTUAL_ENV", "APPEALDESK", "BOT_TOKEN", "ADMIN_IDS", "DATABASE_PATH",
               "ORG_CONFIG", "TELEGRAM_", "TIMEZONE", "PYTEST")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(dropped)}
    # pip keeps its cache under the real HOME (the reinstall then takes seconds)
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    env.update(PATH=f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", HOME=str(home))
    env["MPLCONFIGDIR"] = str(home / "matplotlib")
    return env


def run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=PATIENCE, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict[str, str], dict[str, float]]:
    """(the fresh venv, a folder outside the checkout, the clean env, seconds per step)."""
    tmp = tmp_path_factory.mktemp("install")
    assert ROOT not in tmp.parents
    outside = tmp / "elsewhere"
    outside.mkdir()
    venv = tmp / "venv"
    env = clean_env(venv, outside)
    seconds: dict[str, float] = {}

    started = time.monotonic()
    built = run([sys.executable, "-m", "build", "--outdir", tmp / "dist", ROOT], outside, env)
    assert built.returncode == 0, built.stdout + built.stderr
    seconds["build sdist + wheel"] = time.monotonic() - started

    started = time.monotonic()
    made = run([sys.executable, "-m", "venv", venv], outside, env)
    assert made.returncode == 0, made.stderr
    [wheel] = (tmp / "dist").glob("appealdesk-*.whl")
    pip = run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", wheel],
              outside, env)  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    seconds["venv + pip install wheel"] = time.monotonic() - started
    yield venv, outside, env, seconds
    print("\n" + ", ".join(f"{step}: {s:.1f} s" for step, s in seconds.items()))


def test_the_wheel_and_the_sdist_hold_every_package_and_resource(installed):
    venv, _, _, _ = installed
    dist = venv.parent / "dist"
    [wheel] = dist.glob("appealdesk-*.whl")
    [sdist] = dist.glob("appealdesk-*.tar.gz")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    wheel_packages = {name.rsplit("/", 1)[0].replace("/", ".") for name in in_wheel
                      if name.endswith("/__init__.py")}  # fmt: skip
    assert wheel_packages == source_packages()
    assert {"bot.rules", "bot.usecases", "bot.texts", "bot.sandbox"} <= wheel_packages
    assert not any(name.startswith(("tests/", "bench/")) for name in in_wheel)
    for name in RUN_TIME_FILES:
        assert name in in_wheel, name
        assert (zipfile.Path(wheel) / name).read_bytes() == (ROOT / name).read_bytes()
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for name in (*RUN_TIME_FILES, ".env.example", "deploy/appealdesk.service", "Dockerfile"):
        assert name in in_sdist, name


def test_the_installed_program_runs_outside_the_checkout(installed):
    venv, outside, env, seconds = installed
    python, appealdesk = venv / "bin" / "python", venv / "bin" / "appealdesk"

    # The modules come from the new venv, not from the checkout (no editable install leaks).
    where = run([python, "-c", "import bot.cli, bot.rules, storage, handlers;"
                 "print(bot.cli.__file__); print(bot.rules.__file__)"], outside, env)  # fmt: skip
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert Path(line).is_relative_to(venv) and not Path(line).is_relative_to(ROOT), line

    helped = run([appealdesk, "--help"], outside, env)
    assert helped.returncode == 0, helped.stderr
    assert "demo" in helped.stdout and "check" in helped.stdout

    started = time.monotonic()
    demo = run([appealdesk, "demo"], outside, env)
    seconds["appealdesk demo"] = time.monotonic() - started
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr
    for expected in ("诉求已提交", "编号：SQ-2026-000001", "已导入 29 项整改任务。", "演示结束"):
        assert expected in demo.stdout, expected
    assert "Traceback" not in demo.stdout + demo.stderr

    settings = outside / "appealdesk.env"
    database = outside / "data" / "appealdesk.sqlite3"
    database.parent.mkdir()
    settings.write_text(
        f"DATABASE_PATH={database}\nADMIN_IDS=900001\n"
        "TELEGRAM_BASE_URL=http://127.0.0.1:9/bot\n",  # nothing listens: the token line fails
        encoding="utf-8",
    )
    checked = run([appealdesk, "check", "--env-file", settings], outside, env)
    output = checked.stdout + checked.stderr
    assert "Traceback" not in output and "ModuleNotFoundError" not in output, output
    lines = {line.split(":")[0].split()[-1]: line for line in checked.stdout.splitlines()}
    assert lines["settings"].startswith("ok") and str(database) in lines["settings"], output
    assert lines["config"].startswith("ok") and "resources/org.toml" in lines["config"], output
    assert lines["database"].startswith("ok") and str(database) in lines["database"], output
    assert lines["token"].startswith("FAIL"), output  # no BOT_TOKEN: the only failure
    assert checked.returncode == 1
