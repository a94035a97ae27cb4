"""Choosing an official — an enterprise's 包保, a task's 责任人 — however many have joined.

While they fit on one keyboard (CHOICES_MAX) every official is a button; beyond that the
departments come first (each with its head count) and then the chosen department's
officials. A name may always be typed instead (`how` says where: after /baobao, or at the
task's prompt); a name that is not exactly one official is answered with whom it may mean,
as buttons. Whether the actor may choose at all is for the use cases."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardMarkup

from bot.rules.model import Department, Person
from bot.rules.refusals import OfficialNameUnclear
from bot.telegram_limits import cut
from bot.texts import t
from handlers.common import CHOICES_MAX, esc, offered

Staff = list[tuple[Person, Department]]
Choose = Callable[[Person], str]  # the callback data that chooses this official
ChooseDepartment = Callable[[Department], str]
Prompt = tuple[str, InlineKeyboardMarkup | None]
NAMES_LISTED = 10  # candidates named in the text (all of them are buttons, up to CHOICES_MAX)
NAME_ECHOED = 40  # of a typed name quoted back (longer is cut with "…")


def label(person: Person, department: Department) -> str:
    return t("person_label", name=person.full_name, department=department.name)


def department_first(staff: Staff, department_name: str) -> Staff:
    """The officials of `department_name` (a task's 责任科室) first, the others as they were."""
    return sorted(staff, key=lambda pair: pair[1].name != department_name)


def _buttons(staff: Staff, choose: Choose) -> list[tuple[str, str]]:
    return [(label(p, d), choose(p)) for p, d in staff]


def staff_choice(
    prompt: str, staff: Staff, choose: Choose, choose_department: ChooseDepartment, how: str
) -> Prompt:
    """Every official as a button while they fit, else their departments (in the order of
    `staff`: put the likeliest first) — unless they are all of one department."""
    if len(staff) <= CHOICES_MAX:
        text = prompt + "\n" + t("staff_typed", how=how)
        return offered(text, _buttons(staff, choose), "staff_more", how=how)
    counted: dict[int, tuple[Department, int]] = {}
    for _, department in staff:
        count = counted.get(department.id, (department, 0))[1]
        counted[department.id] = (department, count + 1)
    if len(counted) == 1:  # one department: nothing to choose first
        return department_staff(prompt, staff[0][1], [p for p, _ in staff], choose, how)
    buttons = [
        (t("staff_department_label", department=d.name, count=n), choose_department(d))
        for d, n in counted.values()
    ]
    text = prompt + "\n" + t("staff_by_department", total=len(staff), how=how)
    return offered(text, buttons, "staff_departments_more", how=how)


def department_staff(
    prompt: str, department: Department, members: list[Person], choose: Choose, how: str
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
    buttons = [(label(p, department), choose(p)) for p in members]
    return offered(text, buttons, "staff_more", how=how)


def unclear_name(exc: OfficialNameUnclear, choose: Choose) -> Prompt:
    """A typed name that is not exactly one official: whom it may mean, named and as buttons."""
    candidates: Staff = exc.candidates  # type: ignore[assignment]
    names = "、".join(esc(label(p, d)) for p, d in candidates[:NAMES_LISTED])
    if len(candidates) > NAMES_LISTED:
        names += t("official_names_more", count=len(candidates))
    typed = esc(cut(str(exc.params["name"]), NAME_ECHOED))
    text = t(exc.key, name=typed, count=len(candidates), names=names)
    if not candidates:
        return text, None
    return offered(text, _buttons(candidates, choose), "candidates_more")
