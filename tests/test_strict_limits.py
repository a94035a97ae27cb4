"""The fake Bot API keeps Telegram's flood limits strictly when asked to: 30 messages in any
sliding second for the bot, one a second to a private chat, 20 a minute to a group; a
message over a limit gets 429 with `retry_after` in whole seconds and is not delivered.
Time is a manual clock: nothing here depends on how fast the machine is."""

from __future__ import annotations

import pytest

from bot.sandbox.fake_api import FakeBotApi

GROUP = -100_200


class Seconds:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def private(n: int) -> int:
    return 1_000 + n


# (what the case shows, sends as (time, chat), what each gets: "ok" or (429, retry_after))
CASES = [
    (
        "30 at once pass, the 31st in the same second is refused",
        [(0.0, private(n)) for n in range(31)],
        ["ok"] * 30 + [(429, 1)],
    ),
    (
        "a sliding window, not fixed seconds: 30 at 0.5 s fill it until 1.5 s",
        [(0.5, private(n)) for n in range(30)] + [(1.25, private(30)), (1.5, private(31))],
        ["ok"] * 30 + [(429, 1), "ok"],
    ),
    (
        "spread over a second boundary: 15 late in one second, 15 early in the next, one more",
        [(0.75, private(n)) for n in range(15)]
        + [(1.25, private(15 + n)) for n in range(15)]
        + [(1.5, private(30)), (1.75, private(31))],
        ["ok"] * 30 + [(429, 1), "ok"],
    ),
    (
        "a refused message counts towards nothing",
        [(0.0, private(n)) for n in range(30)] + [(0.5, private(99))] * 5 + [(1.0, private(99))],
        ["ok"] * 30 + [(429, 1)] * 5 + ["ok"],
    ),
    (
        "one a second to a private chat",
        [(0.0, 7), (0.4, 7), (0.99, 7), (1.0, 7), (1.0, 8), (2.5, 7)],
        ["ok", (429, 1), (429, 1), "ok", "ok", "ok"],
    ),
    (
        "20 a minute to a group, sliding",
        [(float(n), GROUP) for n in range(20)] + [(30.0, GROUP), (59.9, GROUP), (60.0, GROUP)],
        ["ok"] * 20 + [(429, 30), (429, 1), "ok"],
    ),
    (
        "a group's limit is its own",
        [(float(n), GROUP) for n in range(20)] + [(20.0, GROUP - 1), (20.0, GROUP)],
        ["ok"] * 20 + ["ok", (429, 40)],
    ),
]


@pytest.mark.parametrize(("story", "sends", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_strict_fake_keeps_telegrams_flood_limits(story, sends, expected):
    clock = Seconds()
    api = FakeBotApi(strict_limits=True, monotonic=clock)
    got = []
    for at, chat in sends:
        clock.now = at
        status, body = api.handle("sendMessage", {"chat_id": chat, "text": "通知"})
        got.append("ok" if status == 200 else (status, body["parameters"]["retry_after"]))
        if status == 429:
            assert body["description"] == f"Too Many Requests: retry after {got[-1][1]}"
    assert got == expected
    assert len(api.sent) == expected.count("ok")  # nothing refused is delivered


def test_refusals_are_counted_by_the_limit_that_gave_them():
    clock = Seconds()
    api = FakeBotApi(strict_limits=True, monotonic=clock)
    for n in range(31):  # 30 pass, then the bot-wide limit
        api.handle("sendMessage", {"chat_id": private(n), "text": "x"})
    clock.now = 1.0
    api.handle("sendPhoto", {"chat_id": 7, "caption": "x"})
    api.handle("sendDocument", {"chat_id": 7, "caption": "x"})  # one a second, any kind
    for _ in range(21):  # 20 pass, then the group's limit
        api.handle("sendMessage", {"chat_id": GROUP, "text": "x"})
    assert api.limits is not None
    assert dict(api.limits.refused) == {"overall": 1, "chat": 1, "group": 1}
    assert api.limits.busiest() == 30
    statuses = [status for _, _, _, status in api.attempts]
    assert statuses.count(429) == 2  # the messages refused (the document is no sendMessage)


def test_other_calls_and_a_lenient_fake_are_not_limited():
    clock = Seconds()
    api = FakeBotApi(strict_limits=True, monotonic=clock)
    for _ in range(40):
        assert api.handle("getMe", {})[0] == 200
        assert api.handle("sendChatAction", {"chat_id": 7, "action": "typing"})[0] == 200
    lenient = FakeBotApi()
    for _ in range(40):
        assert lenient.handle("sendMessage", {"chat_id": 7, "text": "x"})[0] == 200
    assert lenient.limits is None
    # switched on later, as the HTTP server's fake is: from then on
    limits = lenient.keep_limits(clock)
    assert lenient.handle("sendMessage", {"chat_id": 7, "text": "x"})[0] == 200
    assert lenient.handle("sendMessage", {"chat_id": 7, "text": "x"})[0] == 429
    assert dict(limits.refused) == {"chat": 1}
