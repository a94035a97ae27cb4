"""Fail-over when the leader dies: two `appealdesk run --webhook` processes on one throwaway
PostgreSQL server and the fake Bot API (strict about Telegram's flood limits where it offers
that); the one holding the `leader` lease (read from the `leases` table: its holder names
the process) is killed with SIGKILL, and at that moment a message falls due in the outbox
(an answer owed to a person, stored as the product stores one Telegram would not take:
only the leader's drain sends it). Timed from the kill: until the other instance holds the
lease, and until the message reaches the fake Telegram. The killed instance is started again
before the next kill; each kill comes a random moment (seeded) after the lease's last
renewal, so the kills fall all over its 10-second renewal cycle. docs/design.md promises a
new leader within 40 s (the lease's 30 s + one 10 s renewal period).

    python -m bench.failover_bench --kills 4
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import places, settings_for, summary
from bench.intake_bench import (
    LEADER,
    Balancer,
    Flow,
    make_api,
    seed,
    start_instances,
    stop_processes,
    tail,
)
from bot.app import make_env
from bot.config import BUNDLED_ORG_CONFIG, load_org
from bot.sandbox.http_server import serve
from bot.usecases import outbox

PATIENCE = 120.0


def leader(url: str) -> tuple[int, datetime] | None:
    """The pid of the process holding the leader's lease (its holder is host:pid:random),
    and until when; None when nobody holds it."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT holder, until_at FROM leases WHERE name = 'leader'").fetchone()
    if row is None:
        return None
    until = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1])
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if until <= datetime.now(UTC):
        return None
    return int(row[0].split(":")[1]), until


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--tcp", action="store_true")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    api, kind = make_api()
    print(f"two instances, the leader killed {args.kills} times; fake Bot API: {kind}")
    runner, port = await serve(api)
    folder = Path(tempfile.mkdtemp(prefix="failover-bench-"))
    import aiohttp

    with places(["postgresql"], folder, args.tcp) as where:
        url = where["postgresql"].url("failover")
        labels = await seed(url, 1, "members_and_group")
        env = make_env(settings_for(url, admin_ids=[LEADER]), load_org(BUNDLED_ORG_CONFIG), None)
        bots, urls, logs = await start_instances(2, port, url, "members_and_group", folder)
        lease_times, delivery_times = [], []
        try:
            async with aiohttp.ClientSession() as http:
                flow = Flow(api)
                balancer = Balancer(http, urls, 40)
                # one appeal filed through the webhooks: the instances are at work
                await flow.enterprise(0, labels, balancer.post, 1, True)
            await env.db.open()
            for k in range(args.kills):
                deadline = time.monotonic() + PATIENCE
                while (held := leader(url)) is None or held[0] not in {b.pid for b in bots}:
                    if time.monotonic() > deadline:
                        raise RuntimeError("no leader")
                    await asyncio.sleep(0.2)
                # a random moment of the renewal cycle: after the lease's last renewal
                renewed = leader(url)[1].timestamp() - 30.0
                await asyncio.sleep(max(0.0, renewed + rng.uniform(0.0, 10.0) - time.time()))
                pid = leader(url)[0]
                victim = next(n for n, b in enumerate(bots) if b.pid == pid)
                survivor = bots[1 - victim].pid
                phase = time.time() - renewed
                bots[victim].kill()  # SIGKILL
                killed = time.monotonic()
                await bots[victim].wait()
                chat = 60000  # an official; the answer owed to them falls due now
                seen = len(api.messages_to(chat))
                await outbox.owe_answer(env, chat, f"故障切换测试 {k}", [])
                taken = delivered = None
                while taken is None or delivered is None:
                    now = time.monotonic()
                    if now - killed > PATIENCE:
                        raise RuntimeError(
                            f"after {PATIENCE:.0f} s: lease {taken}, sent {delivered}"
                        )
                    held = leader(url)
                    if taken is None and held is not None and held[0] == survivor:
                        taken = now - killed
                    if delivered is None and any(
                        f"故障切换测试 {k}" in m.plain for m in api.messages_to(chat)[seen:]
                    ):
                        delivered = now - killed
                    await asyncio.sleep(0.1)
                lease_times.append(taken)
                delivery_times.append(delivered)
                print(
                    f"kill {k + 1}: leader pid {pid} killed {phase:.1f} s"
                    f" after its renewal; the other led after {taken:.1f} s, the owed"
                    f" message delivered after {delivered:.1f} s",
                    flush=True,
                )
                # the killed one started again (a new process), as a supervisor would
                again, _, more = await start_instances(1, port, url, "members_and_group", folder)
                bots[victim] = again[0]
                logs += more
        except BaseException:
            print(tail(logs))
            raise
        finally:
            await stop_processes(bots)
            await env.db.close()
            await runner.cleanup()
    figures = (
        f"lease {min(lease_times):.1f}–{max(lease_times):.1f} s (median"
        f" {statistics.median(lease_times):.1f}); delivered {min(delivery_times):.1f}–"
        f"{max(delivery_times):.1f} s (median {statistics.median(delivery_times):.1f})"
    )
    print(figures)
    summary(
        "fail-over after kill -9 of the leader",
        f"2 instances, {args.kills} kills",
        figures,
        "40 s (docs/design.md)",
        f"{max(delivery_times) / 40:.2f} of it at worst",
    )


if __name__ == "__main__":
    asyncio.run(main())
