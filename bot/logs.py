"""Logging for operators: never the bot token, never what users wrote.

Every line (tracebacks and the Bot API URLs of library loggers included) passes through a
formatter that masks the configured token and anything shaped like a bot token. Handlers
log ids (update, user, chat) and the use case, never message text."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

TOKEN_SHAPE = re.compile(r"\d{4,}:[A-Za-z0-9_-]{8,}")
MASK = "<token>"
# Faults of the connection to Telegram that `appealdesk run` reports in one line.
ONE_LINE_FAULTS = frozenset({"InvalidToken", "NetworkError", "TimedOut"})


class Redacting(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in ONE_LINE_FAULTS:
            # The command prints one clear line for these; a traceback only buries it.
            record = logging.makeLogRecord(
                {
                    **record.__dict__,
                    "exc_info": None,
                    "exc_text": None,
                    "msg": record.getMessage() + f" ({type(exc).__name__}: {exc})",
                    "args": None,
                }
            )
        return redact(super().format(record), self.secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, MASK)
    return TOKEN_SHAPE.sub(MASK, text)


class CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted (not the one there was when
    logging was set up), so a replaced stderr never leaves logging writing to a closed one."""

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure(verbose: bool, secrets: Iterable[str] = ()) -> None:
    """Root logging with the redacting formatter; chatty libraries kept at WARNING."""
    handler = CurrentStderr()
    handler.setFormatter(Redacting("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # httpx logs every request URL, which holds the token; apscheduler logs every job run.
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def update_ids(update: object) -> str:
    """What identifies an update in a log line: its id, the user and the chat, no content."""
    update_id = getattr(update, "update_id", None)
    user = getattr(getattr(update, "effective_user", None), "id", None)
    chat = getattr(getattr(update, "effective_chat", None), "id", None)
    return f"update={update_id} user={user} chat={chat}"
