"""Files that join a message already announced (the further photos of an album): they
follow the notice that announced the first, never one notice per photo."""

from __future__ import annotations

from datetime import datetime

from bot.rules import delivery
from bot.rules.model import Courier
from storage.contract import UnitOfWork

# A notice still owed (or gone) whose recipient should also get the files that joined it.
_FOLLOWED = (Courier.PENDING, Courier.SENDING, Courier.SENT)


async def follow(
    uow: UnitOfWork,
    now: datetime,
    subject: tuple[str, int],
    earlier: set[int],
    added: list[int],
    continuation: str,
) -> tuple[int, ...]:
    """In the adding transaction: the `added` files join, for each recipient, the newest
    notice that announced any of the `earlier` files of the same message when nothing of it
    has gone yet; else one `continuation` notice carrying just the added files is queued to
    that recipient (later files join it in turn while it waits). Returns the new ids."""
    if not added or not earlier:
        return ()
    kind, subject_id = subject
    rows = [
        r
        for r in await uow.outbox.announcing(kind, subject_id)
        if earlier & {int(i) for i in r.detail.get(delivery.FILES) or ()}
    ]
    newest = {r.chat_id: r for r in rows}  # oldest first: the last one wins
    queued = []
    for chat, row in newest.items():
        if row.status not in _FOLLOWED or await uow.outbox.add_files(row.id, added):
            continue
        said = {"text": "", delivery.FILES: list(added)}
        queued.append(
            await uow.outbox.add(chat, continuation, kind, subject_id, said, delivery.NOTICE, now)
        )
    return tuple(queued)
