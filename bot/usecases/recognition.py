"""An enterprise and its directory entry: matched by USCC when it registers, and the 包保 a
roster names given to it (used by registration and by the roster's import)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from bot.rules.directory import DirectoryEntry
from bot.rules.model import Enterprise
from storage.contract import UnitOfWork


def subject(entry_id: int) -> str:
    """The audit subject of a directory entry."""
    return f"directory:{entry_id}"


async def give_baobao(
    uow: UnitOfWork,
    enterprise: Enterprise,
    entry: DirectoryEntry,
    actor_id: int | None,
    now: datetime,
) -> None:
    """The 包保 a roster names becomes the registered enterprise's (audited as any 包保)."""
    official = entry.baobao_user_id
    if official is None or enterprise.baobao_user_id == official:
        return
    await uow.enterprises.set_baobao(enterprise.id, official)
    await uow.audit.add(
        f"enterprise:{enterprise.id}",
        actor_id,
        "baobao",
        now,
        from_state=str(enterprise.baobao_user_id or ""),
        to_state=str(official),
        detail={"from": "directory"},
    )


async def recognise(
    uow: UnitOfWork, enterprise: Enterprise, now: datetime
) -> DirectoryEntry | None:
    """An enterprise that just registered, in its registration's unit of work: the entry a
    roster made for its USCC, linked and its 包保 given; None when the bureau did not know
    it (it gets an entry of its own, to be segmented like the rest)."""
    await uow.directory.hold()  # a roster being imported adds this USCC first, or after
    entry = await uow.directory.by_uscc(enterprise.uscc)
    if entry is None:
        await uow.directory.add(
            DirectoryEntry(
                0,
                enterprise.uscc,
                enterprise.name,
                "",
                "",
                None,
                (),
                "",
                None,
                enterprise.id,
                now,
                now,
            )  # fmt: skip
        )
        return None
    entry = replace(entry, enterprise_id=enterprise.id, updated_at=now)
    await uow.directory.save(entry)
    await uow.audit.add(
        subject(entry.id),
        enterprise.primary_contact_id,
        "directory_match",
        now,
        detail={"enterprise": enterprise.id},
    )
    await give_baobao(uow, enterprise, entry, None, now)
    return entry


async def recognised(uow: UnitOfWork, enterprise_id: int) -> DirectoryEntry | None:
    """The roster's entry a registered enterprise was matched to; None when it had none."""
    entry = await uow.directory.of_enterprise(enterprise_id)
    if entry is None:
        return None
    events = await uow.audit.of_subject(subject(entry.id))
    return entry if any(e.action == "directory_match" for e in events) else None
