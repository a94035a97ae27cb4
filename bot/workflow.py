"""The appeal workflow as data: (state, action) → (next state, roles allowed).

Adding a state or a button means one row here, one handler and one text.
"""

from __future__ import annotations

from bot.model import Action, Role, State

P, W, C, R, X = State.PENDING, State.IN_PROGRESS, State.CLOSED, State.RATED, State.WITHDRAWN
ENT = frozenset({Role.ENTERPRISE})
OWNER = frozenset({Role.OFFICIAL, Role.HEAD})
STAFF = frozenset({Role.OFFICIAL, Role.HEAD, Role.ADMIN})

TRANSITIONS: dict[tuple[State, Action], tuple[State, frozenset[Role]]] = {
    (P, Action.CLAIM): (W, OWNER),
    (P, Action.NOTE): (P, STAFF),
    (P, Action.TRANSFER): (P, STAFF),
    (P, Action.SUPPLEMENT): (P, ENT),
    (P, Action.WITHDRAW): (X, ENT),
    (W, Action.REPLY): (W, OWNER),
    (W, Action.NOTE): (W, STAFF),
    (W, Action.TRANSFER): (P, STAFF),
    (W, Action.CLOSE): (C, OWNER),
    (W, Action.EXTEND): (W, OWNER),
    (W, Action.SUPPLEMENT): (W, ENT),
    (W, Action.WITHDRAW): (X, ENT),
    (C, Action.NOTE): (C, STAFF),
    (C, Action.RATE): (R, ENT),
    (C, Action.REOPEN): (W, ENT),
    (R, Action.NOTE): (R, STAFF),
}

# Actions that only the owner (or the department head) may take once an appeal is claimed.
OWNER_ONLY = frozenset({Action.REPLY, Action.CLOSE, Action.EXTEND})
# Actions that change the state and therefore need an up-to-date button.
VERSIONED = frozenset(
    {Action.CLAIM, Action.TRANSFER, Action.CLOSE, Action.RATE, Action.REOPEN, Action.WITHDRAW}
)


def next_state(state: State, action: Action) -> State | None:
    row = TRANSITIONS.get((state, action))
    return row[0] if row else None


def roles_for(state: State, action: Action) -> frozenset[Role]:
    row = TRANSITIONS.get((state, action))
    return row[1] if row else frozenset()


def actions_in(state: State) -> list[Action]:
    return [action for (s, action) in TRANSITIONS if s == state]
