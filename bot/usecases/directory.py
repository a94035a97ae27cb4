"""Use cases of the enterprise directory (企业名录): importing a roster, finding and editing an
entry, and matching an enterprise to its entry when it registers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.rules import access
from bot.rules.directory import (
    Attribute,
    DirectoryCounts,
    DirectoryEntry,
    RosterRow,
    Scale,
    attribute_value,
    validate_roster,
)
from bot.rules.model import Actor, Role
from bot.rules.refusals import DirectoryEntryNotFound, DirectoryUnchanged
from bot.rules.tasks import resolve_owner
from bot.usecases.env import Env
from bot.usecases.people import Who, actor_in
from bot.usecases.recognition import give_baobao, subject
from storage.contract import UnitOfWork

SEARCH_SHOWN = 10  # entries a search lists; more are counted
COUNTS_TOP = 8  # values of each attribute the summary names


@dataclass(frozen=True)
class BaobaoUnmatched:
    """A roster's 包保人 that is not exactly one official (its rows keep their 包保)."""

    row: int
    name: str
    matches: int


@dataclass(frozen=True)
class NameKept:
    """A roster row naming a registered enterprise otherwise: the name is not changed."""

    row: int
    roster_name: str
    name: str


@dataclass(frozen=True)
class RosterImported:
    added: int
    updated: int
    unchanged: int
    registered: int  # rows whose enterprise has registered in the bot already
    baobao_unmatched: list[BaobaoUnmatched]
    total: int  # entries in the directory after it
    names_kept: list[NameKept] = field(default_factory=list)


def _merged(
    entry: DirectoryEntry, row: RosterRow, baobao_id: int | None, now: datetime
) -> DirectoryEntry:
    """The entry as a roster row leaves it: what the row gives replaces, an empty cell keeps."""
    return replace(
        entry,
        name=row.name or entry.name,
        industry=row.industry or entry.industry,
        district=row.district or entry.district,
        scale=row.scale or entry.scale,
        tags=entry.tags if row.tags is None else row.tags,
        baobao_name=row.baobao_name or entry.baobao_name,
        baobao_user_id=baobao_id if row.baobao_name else entry.baobao_user_id,
        updated_at=now,
    )


CHANGED_FIELDS = ("name", "industry", "district", "scale", "tags", "baobao_name")


def changes(before: DirectoryEntry, after: DirectoryEntry) -> dict[str, list[object]]:
    """{field: [before, after]} of what differs, as stored (tags as a list)."""
    found: dict[str, list[object]] = {}
    for name in CHANGED_FIELDS:
        old, new = _stored(getattr(before, name)), _stored(getattr(after, name))
        if old != new:
            found[name] = [old, new]
    return found


def _stored(value: object) -> object:
    if isinstance(value, tuple):  # tags: a set, kept in order of their names
        return sorted(value)
    return "" if value is None else str(value)


async def import_roster(
    env: Env,
    who: Who | None,
    rows: list[list[str]],
    headers: dict[str, str],
    scales_by_label: dict[str, Scale],
) -> RosterImported:
    """Import a whole roster (who None: the command line). Nothing on any bad row. A USCC
    already known is updated from the cells the row fills; one registered in the bot is
    linked and given the 包保 the roster names."""
    now = env.now()
    found = validate_roster(rows, headers, scales_by_label)
    added = updated = unchanged = registered = 0
    unmatched: list[BaobaoUnmatched] = []
    kept: list[NameKept] = []
    async with env.db.unit_of_work() as uow:
        actor = None if who is None else await actor_in(uow, env, who)
        access.require_leader(actor)
        actor_id = actor.tg_id if actor else None
        await uow.directory.hold()
        for row in found:
            baobao_id = None
            if row.baobao_name:
                named = await uow.people.staff_named(row.baobao_name)
                baobao_id = resolve_owner(row.baobao_name, named)
                if baobao_id is None:
                    unmatched.append(BaobaoUnmatched(row.row, row.baobao_name, len(named)))
            enterprise = await uow.enterprises.by_uscc(row.uscc)
            entry = await uow.directory.by_uscc(row.uscc)
            if entry is None:
                blank = DirectoryEntry(
                    0, row.uscc, row.name, "", "", None, (), "", None, None, now, now
                )
                entry = replace(
                    _merged(blank, row, baobao_id, now),
                    enterprise_id=enterprise.id if enterprise else None,
                )
                entry_id = await uow.directory.add(entry)
                entry = replace(entry, id=entry_id)
                added += 1
                await uow.audit.add(
                    subject(entry_id),
                    actor_id,
                    "directory_import",
                    now,
                    detail={"row": row.row, "changes": changes(blank, entry)},
                )
            else:
                after = _merged(entry, row, baobao_id, now)
                if entry.enterprise_id is not None and row.name != entry.name:
                    # a registered enterprise keeps its name: a roster's other name for the
                    # same USCC is more likely a slip than a renaming; the leader is told
                    kept.append(NameKept(row.row, row.name, entry.name))
                    after = replace(after, name=entry.name)
                diff = changes(entry, after)
                if diff or after.baobao_user_id != entry.baobao_user_id:
                    after = replace(after, tags=tuple(sorted(after.tags)))
                    await uow.directory.save(after)
                    updated += 1
                    await uow.audit.add(
                        subject(entry.id),
                        actor_id,
                        "directory_import",
                        now,
                        detail={"row": row.row, "changes": diff},
                    )
                else:
                    unchanged += 1
                entry = after
            if enterprise is not None:
                registered += 1
                await give_baobao(uow, enterprise, entry, actor_id, now)
        counts = await uow.directory.counts(1)
        await uow.commit()
    return RosterImported(added, updated, unchanged, registered, unmatched, counts.total, kept)


@dataclass(frozen=True)
class Found:
    """What /enterprises <text> finds: the entries (at most SEARCH_SHOWN) and how many."""

    entries: list[DirectoryEntry]
    more: bool


async def summary(env: Env, who: Who) -> DirectoryCounts:
    async with env.db.reading() as uow:
        access.require_leader(await actor_in(uow, env, who))
        return await uow.directory.counts(COUNTS_TOP)


async def may_import(env: Env, who: Who) -> None:
    """Only a leader imports a roster (asked before the file is): NotAllowed else."""
    async with env.db.reading() as uow:
        access.require_leader(await actor_in(uow, env, who))


async def search(env: Env, who: Who, text: str) -> Found:
    """Entries by USCC (exactly) or by a part of the name."""
    async with env.db.reading() as uow:
        access.require_leader(await actor_in(uow, env, who))
        exact = await uow.directory.by_uscc(text.strip().upper())
        if exact is not None:
            return Found([exact], False)
        found = await uow.directory.search(text.strip(), SEARCH_SHOWN + 1)
    return Found(found[:SEARCH_SHOWN], len(found) > SEARCH_SHOWN)


@dataclass(frozen=True)
class EntryView:
    entry: DirectoryEntry
    baobao: str  # the registered enterprise's 包保 by name, else the roster's (when matched)
    contacts: int  # registered contacts who receive broadcasts
    # when, who (name; None with an id: a leader, not stored), the action, its changes
    history: list[tuple[datetime, str | None, int | None, str, dict[str, list[object]]]]
    # its 月报: (campaign, months asked, reported, late)
    reports: list[tuple[str, int, int, int]] = field(default_factory=list)


def _leader_only(actor: Actor) -> None:
    """An entry's buttons are the leaders': anyone else is answered as for an unknown one."""
    if actor.role is not Role.ADMIN:
        raise DirectoryEntryNotFound()


async def view(env: Env, who: Who, entry_id: int) -> EntryView:
    async with env.db.reading() as uow:
        _leader_only(await actor_in(uow, env, who))
        return await _view(uow, entry_id)


async def _view(uow: UnitOfWork, entry_id: int) -> EntryView:
    entry = await uow.directory.get(entry_id)
    if entry is None:
        raise DirectoryEntryNotFound()
    baobao, contacts = entry.baobao_name, 0
    if entry.baobao_name and entry.baobao_user_id is None:
        baobao = ""  # the roster named nobody who has joined: no 包保 (the card says so)
    if entry.enterprise_id is not None:
        enterprise = await uow.enterprises.get(entry.enterprise_id)
        if enterprise is not None and enterprise.baobao_user_id is not None:
            baobao = await uow.people.name_of(enterprise.baobao_user_id) or baobao
        contacts = len(await uow.people.contacts_of(entry.enterprise_id))
    events = await uow.audit.of_subject(subject(entry_id))
    changed = [
        (e.created_at, e.actor_name, e.actor_id, e.action, dict(e.detail.get("changes") or {}))
        for e in events
    ]
    reports = []
    if entry.enterprise_id is not None:
        reports = await uow.monthly.enterprise_record(entry.enterprise_id)
    return EntryView(entry, baobao, contacts, changed, reports)


async def edit(
    env: Env,
    who: Who,
    entry_id: int,
    attribute: Attribute,
    text: str | None,
    scales_by_label: dict[str, Scale],
) -> EntryView:
    """A leader changes one attribute; the change is audited. The same value again is
    refused as unchanged (a second tap, a repeated message)."""
    now = env.now()
    async with env.db.unit_of_work() as uow:
        actor = await actor_in(uow, env, who)
        _leader_only(actor)
        entry = await uow.directory.get(entry_id)
        if entry is None:
            raise DirectoryEntryNotFound()
        value = attribute_value(attribute, text, scales_by_label)
        stored: object = "" if value is None and attribute is not Attribute.SCALE else value
        after = replace(entry, **{str(attribute): stored}, updated_at=now)
        diff = changes(entry, after)
        if not diff:
            raise DirectoryUnchanged(name=entry.name)
        await uow.directory.save(after)
        await uow.audit.add(
            subject(entry_id), actor.tg_id, "directory_edit", now, detail={"changes": diff}
        )
        shown = await _view(uow, entry_id)
        await uow.commit()
    return shown


@dataclass(frozen=True)
class ExportedEntry:
    entry: DirectoryEntry
    baobao: str
    contacts: int


EXPORT_PAGE = 1000


async def export(env: Env, who: Who | None) -> list[ExportedEntry]:
    """Every entry with its 包保 by name and its contacts (a leader; None: the command line)."""
    found: list[ExportedEntry] = []
    async with env.db.reading() as uow:
        access.require_leader(None if who is None else await actor_in(uow, env, who))
        after = 0
        while page := await uow.directory.export_page(after, EXPORT_PAGE):
            found += [ExportedEntry(entry, baobao, contacts) for entry, baobao, contacts in page]
            after = page[-1][0].id
    return found
