"""Named refusals of the domain. Each carries a catalog key; the chat layer words it."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    key = "error_generic"

    def __init__(self, **params: object) -> None:
        super().__init__(self.key, params)
        self.params = params


class NotRegistered(DomainError):
    key = "error_not_registered"


class NotAllowed(DomainError):
    """The actor's role may not do this."""

    key = "error_not_allowed"


class AppealNotFound(DomainError):
    """Unknown id, or an appeal the actor may not see: the answer is the same on purpose."""

    key = "error_appeal_not_found"


class AppealMovedAway(AppealNotFound):
    """An appeal the actor handled and no longer sees: said where it went, by whom, when
    (only to someone who had it; anybody else is told it is not found)."""

    key = "error_appeal_moved"


class ContactNotFound(DomainError):
    """Not a contact of an enterprise the actor manages, or unknown: the same answer."""

    key = "error_contact_not_found"


class ContactAlreadyRemoved(DomainError):
    """A 移除 pressed again (or on an older list): the contact is gone already; says who
    removed them and when."""

    key = "error_contact_already_removed"


class BaobaoUnchanged(DomainError):
    """A 包保 button pressed for the official who already is the enterprise's 包保."""

    key = "error_baobao_unchanged"


class BaobaoNotFound(DomainError):
    """包保 assignment of an unknown enterprise or official, or by someone not a leader."""

    key = "error_baobao_not_found"


class OfficialNameUnclear(DomainError):
    """A typed name (包保, a task's 责任人) that is not exactly one joined official.
    `candidates` are the (person, department) pairs it may mean: several of that name, or
    (for an unknown name) those whose names are close to it, maybe none."""

    def __init__(self, name: str, candidates: Sequence[tuple[object, object]]) -> None:
        super().__init__(name=name, count=len(candidates))
        self.candidates = list(candidates)


class OfficialNameUnknown(OfficialNameUnclear):
    key = "error_official_unknown"

    def __init__(self, name: str, candidates: Sequence[tuple[object, object]]) -> None:
        super().__init__(name, candidates)
        if candidates:
            self.key = "error_official_similar"


class OfficialNameAmbiguous(OfficialNameUnclear):
    key = "error_official_ambiguous"


class UnknownButton(DomainError):
    """A press this bot could not have sent (no ids to look up)."""

    key = "stale_button"


class NotYourAppeal(DomainError):
    """The actor sees the appeal but is not the one who may act on it now."""

    key = "error_not_your_appeal"


class InvalidTransition(DomainError):
    key = "error_invalid_transition"


class StaleAction(DomainError):
    key = "error_stale_action"


class InvalidInput(DomainError):
    key = "error_invalid_input"


class DepartmentNotFound(InvalidInput):
    """An invite for an unknown department, or asked by someone not a leader: worded as a
    mistyped department code, whoever asks."""

    def __init__(self, **params: object) -> None:
        super().__init__(**{"field": "department", "reason": "unknown", **params})


class PrimaryContactOnly(DomainError):
    """Only the enterprise's first contact (or a leader) manages its contacts."""

    key = "error_primary_only"


class PrimaryContactStays(DomainError):
    key = "error_primary_stays"


class AlreadyRegistered(DomainError):
    key = "error_already_registered"


class EnterpriseTaken(DomainError):
    key = "error_enterprise_taken"


class InviteInvalid(DomainError):
    """A link that cannot be used; `reason` is one of REASONS (each worded `invite_<reason>`)."""

    key = "error_invite_invalid"
    REASONS = ("unknown", "used", "expired")


class RatingExpired(DomainError):
    key = "error_rating_expired"


class ExtensionPending(DomainError):
    key = "error_extension_pending"


class ExtensionTooLate(DomainError):
    key = "error_extension_too_late"


class TaskNotFound(AppealNotFound):
    key = "error_task_not_found"


class DirectoryEntryNotFound(DomainError):
    """An enterprise not in the directory (or a forged button): the same answer."""

    key = "error_directory_not_found"


class BroadcastNotFound(DomainError):
    """A broadcast unknown, not the actor's to see, or not one they received: one answer."""

    key = "error_broadcast_not_found"


class CampaignNotFound(DomainError):
    """A 月报 campaign or period unknown, or not the actor's to fill or see: one answer."""

    key = "error_campaign_not_found"


class ReportClosed(DomainError):
    """A submitted 月报 corrected after its due day."""

    key = "error_report_closed"


class ReportIncomplete(DomainError):
    """提交 with required fields still empty (named)."""

    key = "error_report_incomplete"


class DirectoryUnchanged(DomainError):
    """An attribute set to the value it has (a second tap, a message sent twice)."""

    key = "error_directory_unchanged"


class TaskReassigned(TaskNotFound):
    """A task the actor held, now another's 责任人: said to whom and when."""

    key = "error_task_reassigned"


class TaskStale(StaleAction):
    key = "error_task_stale"


class TaskPartClosed(DomainError):
    """More of a report (or 销号 request), or an edit of one of its parts, after the task
    moved on (decided, sent back, deemed done, given another 责任人): nothing changes.
    `event` is the change that closed it."""

    key = "error_task_part_closed"

    def __init__(self, event: object = None, **params: object) -> None:
        super().__init__(**params)
        self.event = event


class TaskWrongState(InvalidTransition):
    key = "error_task_wrong_state"


class TaskImportError(DomainError):
    """A file that cannot be imported as a whole; each problem is (row, catalog key, params)."""

    key = "error_task_import"

    def __init__(self, problems: list[tuple[int, str, dict[str, object]]]) -> None:
        super().__init__(count=len(problems))
        self.problems = problems


class RosterImportError(TaskImportError):
    """An enterprise roster that cannot be imported as a whole; (row, catalog key, params)."""

    key = "error_roster_import"


class DuplicateAppeal(DomainError):
    """The same enterprise filed the same text a short while ago: ask before a second one."""

    key = "error_duplicate_appeal"
