"""Choosing an official — an enterprise's 包保, a task's 责任人 — however many have joined.

While they fit on one keyboard (CHOICES_MAX) every official is a button; beyond that the
departments come first (each with its head count) and then the chosen department's
officials. A name may always be typed instead (`how` says where: after /baobao, or at the
task's prompt); a name that is not exactly one official is answered with whom it may mean,
as buttons. Whether the actor may choose at all is for the use cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo

from telegram import InlineKeyboardMarkup

from bot.rules.model import Department, Person
from bot.rules.names import comparable, visible_name
from bot.rules.refusals import OfficialNameUnclear
from bot.telegram_limits import cut
from bot.texts import t
from bot.texts.events import person_name
from handlers.common import CHOICES_MAX, esc, offered

Staff = list[tuple[Person, Department]]
Choose = Callable[[Person], str]  # the callback data that chooses this official
ChooseDepartment = Callable[[Department], str]
Prompt = tuple[str, InlineKeyboardMarkup | None]
NAMES_LISTED = 10  # candidates named in the text (all of them are buttons, up to CHOICES_MAX)
NAME_ECHOED = 40  # of a typed name quoted back (longer is cut with "…")


def labels(staff: Staff, zone: tzinfo = UTC) -> list[str]:
    """Each official as a button reads: 姓名（部门）; officials of one name in one department
    are told apart by when they joined (`zone`'s day; the minute when that is shared too;
    then their order of joining)."""
    alike: dict[tuple[str, int], list[Person]] = {}
    for person, department in staff:
        alike.setdefault(_namesake_key(person, department), []).append(person)
    found = []
    for person, department in staff:
        shown = person_name(person.full_name, person.role)
        namesakes = alike[_namesake_key(person, department)]
        if len(namesakes) == 1:
            found.append(t("person_label", name=shown, department=department.name))
            continue
        joined = _joined(person, namesakes, zone)
        found.append(
            t("person_label_joined", name=shown, department=department.name, joined=joined)
        )
    return found


def _namesake_key(person: Person, department: Department) -> tuple[str, int]:
    return comparable(visible_name(person.full_name)), department.id


def _joined(person: Person, namesakes: list[Person], zone: tzinfo) -> str:
    """When `person` joined, as finely as needed to tell them from their namesakes."""
    for shape in ("%Y-%m-%d", "%Y-%m-%d %H:%M"):
        when = {p.tg_id: p.created_at.astimezone(zone).strftime(shape) for p in namesakes}
        if list(when.values()).count(when[person.tg_id]) == 1:
            return when[person.tg_id]
    order = sorted(namesakes, key=lambda p: (p.created_at, p.tg_id)).index(person) + 1
    return t("person_joined_order", joined=when[person.tg_id], order=order)


def department_first(staff: Staff, department_name: str) -> Staff:
    """The officials of `department_name` (a task's 责任科室) first, the others as they were."""
    return sorted(staff, key=lambda pair: pair[1].name != department_name)


def _buttons(staff: Staff, choose: Choose, zone: tzinfo = UTC) -> list[tuple[str, str]]:
    return list(zip(labels(staff, zone), [choose(p) for p, _ in staff], strict=True))


def staff_choice(
    prompt: str,
    staff: Staff,
    choose: Choose,
    choose_department: ChooseDepartment,
    how: str,
    zone: tzinfo = UTC,
) -> Prompt:
    """Every official as a button while they fit, else their departments (in the order of
    `staff`: put the likeliest first) — unless they are all of one department."""
    if len(staff) <= CHOICES_MAX:
        text = prompt + "\n" + t("staff_typed", how=how)
        return offered(text, _buttons(staff, choose, zone), "staff_more", how=how)
    counted: dict[int, tuple[Department, int]] = {}
    for _, department in staff:
        count = counted.get(department.id, (department, 0))[1]
        counted[department.id] = (department, count + 1)
    if len(counted) == 1:  # one department: nothing to choose first
        return department_staff(prompt, staff[0][1], [p for p, _ in staff], choose, how, zone)
    buttons = [
        (t("staff_department_label", department=d.name, count=n), choose_department(d))
        for d, n in counted.values()
    ]
    text = prompt + "\n" + t("staff_by_department", total=len(staff), how=how)
    return offered(text, buttons, "staff_departments_more", how=how)


def department_staff(
    prompt: str,
    department: Department,
    members: list[Person],
    choose: Choose,
    how: str,
    zone: tzinfo = UTC,
) -> Prompt:
    """The officials of the department chosen; beyond CHOICES_MAX, `how` to name the rest."""
    if not members:
        return prompt + "\n" + t("staff_none_in_department", department=esc(department.name)), None
    text = (
        prompt
        + "\n"
        + t("staff_of_department", department=esc(department.name), count=len(members))
    )
    if len(members) <= CHOICES_MAX:
        text += "\n" + t("staff_typed", how=how)
    buttons = _buttons([(p, department) for p in members], choose, zone)
    return offered(text, buttons, "staff_more", how=how)


def unclear_name(exc: OfficialNameUnclear, choose: Choose, zone: tzinfo = UTC) -> Prompt:
    """A typed name that is not exactly one official: whom it may mean, named and as buttons."""
    candidates: Staff = exc.candidates  # type: ignore[assignment]
    names = "、".join(esc(shown) for shown in labels(candidates, zone)[:NAMES_LISTED])
    if len(candidates) > NAMES_LISTED:
        names += t("official_names_more", count=len(candidates))
    typed = esc(cut(str(exc.params["name"]), NAME_ECHOED))
    text = t(exc.key, name=typed, count=len(candidates), names=names)
    if not candidates:
        return text, None
    return offered(text, _buttons(candidates, choose, zone), "candidates_more")
