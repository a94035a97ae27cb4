"""Who holds a rectification task now: read by the task use cases, the ladder and the
courier's entitlement check alike (so none of them imports another for it)."""

from __future__ import annotations

from bot.rules import audiences
from bot.rules.model import Role, Task
from bot.usecases.env import Env
from storage.contract import UnitOfWork


async def stand_ins(uow: UnitOfWork, task: Task) -> frozenset[int]:
    """Who holds an unmapped task: the heads of its department (by name), if any."""
    if task.owner_id is not None:
        return frozenset()
    dept = await uow.departments.by_name(task.department_name)
    if dept is None:
        return frozenset()
    return frozenset(p.tg_id for p in await uow.people.staff_of(dept.id) if p.role is Role.HEAD)


async def holders(env: Env, uow: UnitOfWork, task: Task) -> list[int]:
    """Who is told about a task: its 责任人, else its stand-ins, else the leaders."""
    owners = [task.owner_id] if task.owner_id else sorted(await stand_ins(uow, task))
    return audiences.for_task(owners, sorted(env.leaders))
