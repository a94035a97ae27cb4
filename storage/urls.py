"""Database URLs: which backend a DATABASE_URL names, where, and how it is shown (never
with its password). The factory and the backends read URLs through here.

Accepted forms of DATABASE_URL (`ACCEPTED`):
- a plain file path, `appealdesk.sqlite3` or `/var/lib/appealdesk/appealdesk.sqlite3`;
- `sqlite:///relative/path` or `sqlite:////absolute/path` (SQLAlchemy's spelling);
- `postgresql://user:password@host:port/database?sslmode=verify-full` (also `postgres://`).
A password is never shown: `masked(url)` is how a URL appears in messages and logs.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

SQLITE, POSTGRESQL = "sqlite", "postgresql"
ACCEPTED = (
    "a file path, sqlite:///relative/path, sqlite:////absolute/path or"
    " postgresql://user:password@host:port/database"
)
POSTGRES_SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
HIDDEN = "***"


class BadDatabaseUrl(ValueError):
    """DATABASE_URL is none of the accepted forms; the message names them (never a password)."""


# urlsplit refuses an address holding a character that NFKC folds into a delimiter (a
# full-width ： or ＠, a small ﹖ …), because it could be read two ways; it says so with the
# address itself, password and all. Any URL a person writes is read through split_url.
UNREADABLE = (
    "holds a character that reads as : / ? # or @ once normalised (a full-width ： or ＠,"
    " for instance): write it percent-encoded, or as the ASCII character it stands for"
)


def split_url(text: str) -> SplitResult:
    """urlsplit, refusing with UNREADABLE (a ValueError naming no part of the URL) where
    urlsplit would raise with the address in its words."""
    try:
        return urlsplit(text)
    except ValueError:
        if any(not c.isascii() and folds_into(c, "/?#@:") for c in text):
            raise ValueError(UNREADABLE) from None
        raise ValueError("cannot be read as a URL (a bracket left open?)") from None


def folds_into(character: str, delimiters: str) -> bool:
    """Whether the character is, or NFKC-normalises into something holding, a delimiter."""
    return any(d in unicodedata.normalize("NFKC", character) for d in delimiters)


@dataclass(frozen=True)
class Target:
    """Where a database URL points: the backend, and the file for SQLite."""

    backend: str
    # normalised: sqlite:///… for a file, the URL as given for PostgreSQL (never in a repr)
    url: str = field(repr=False)
    path: Path | None = None

    @property
    def shown(self) -> str:
        """The database as messages name it: the file, or the URL without its password."""
        return str(self.path) if self.path is not None else masked(self.url)


def parse_database_url(text: str) -> Target:
    """Read DATABASE_URL; raises BadDatabaseUrl naming the accepted forms."""
    value = text.strip()
    if not value:
        raise BadDatabaseUrl(f"is empty (give {ACCEPTED}, or remove the line for the default)")
    scheme, sep, rest = value.partition("://")
    if not sep:
        if value.lower().startswith(("sqlite:", "postgres:", "postgresql:")):
            raise BadDatabaseUrl(f"is not a URL (a scheme is followed by ://); give {ACCEPTED}")
        return Target(SQLITE, sqlite_url(Path(value)), Path(value))
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise BadDatabaseUrl(
                f"{masked(value)!r} names no file: write sqlite:///relative/path or"
                " sqlite:////absolute/path (three slashes, then the path)"
            )
        path = rest[1:]
        if "?" in path or "#" in path or path in (":memory:", "") or path.endswith("/"):
            raise BadDatabaseUrl(
                f"{masked(value)!r} must name a database file (no options, no :memory:);"
                f" give {ACCEPTED}"
            )
        return Target(SQLITE, sqlite_url(Path(path)), Path(path))
    if scheme in POSTGRES_SCHEMES:
        return Target(POSTGRESQL, _postgres_url(value))
    raise BadDatabaseUrl(f"unknown kind of database {scheme + '://'!r}; give {ACCEPTED}")


def _postgres_url(value: str) -> str:
    if any(_reserved_in_password(c) for c in _raw_password(value)):
        raise BadDatabaseUrl(
            f"{masked(value)}: the password holds a character URLs reserve (@ / # ? [ ], or"
            " one that reads as such, like a full-width ＠): percent-encode it (@ as %40, / as"
            " %2F, # as %23, ? as %3F)"
        )
    shown = masked(value)
    try:
        parts = split_url(value)
    except ValueError as exc:
        raise BadDatabaseUrl(f"{shown}: {exc}") from None
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise BadDatabaseUrl(f"{shown}: the port must be a number from 1 to 65535") from None
    if parts.fragment:
        raise BadDatabaseUrl(f"{shown}: remove the '#…' part")
    if not parts.path.strip("/"):
        raise BadDatabaseUrl(f"{shown}: name the database after the host, e.g. …/appealdesk")
    if "/" in parts.path.strip("/"):
        raise BadDatabaseUrl(f"{shown}: one database name after the host, e.g. …/appealdesk")
    for key, option in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode" and option not in SSL_MODES:
            raise BadDatabaseUrl(f"{shown}: sslmode must be one of {', '.join(SSL_MODES)}")
    return value


def sqlite_url(path: Path) -> str:
    """sqlite:///relative or sqlite:////absolute for a file path."""
    return f"sqlite:///{path}"


# A password written with a character URLs reserve (`sec#ret`, `p@ss/w`) moves urlsplit's
# split, and the rest of it would be shown. So the password is also read as written: the
# user part is what comes before the last `@` ahead of the options (`?…`, which may hold an
# `@` of their own); every reading of it is hidden.
RESERVED_IN_PASSWORD = "@/#?[]"


def _reserved_in_password(character: str) -> bool:
    """A reserved character, or one NFKC folds into a delimiter (the password's own `:` is
    allowed as written, a full-width ： is not: urlsplit cannot read it)."""
    if character.isascii():
        return character in RESERVED_IN_PASSWORD
    return folds_into(character, RESERVED_IN_PASSWORD + ":")


def _user_and_rest(url: str) -> tuple[str, str]:
    """(the user part, what follows its `@`) of a URL; ('', all after `://`) without one.
    The user part ends at the last `@` ahead of the options; when none is there, at the last
    `@` of all (a raw `?` in the password put the options' start inside it)."""
    rest = url.partition("://")[2]
    for part in (rest.partition("?")[0], rest):
        user, at, _ = part.rpartition("@")
        if at:
            return user, rest[len(user) + 1 :]
    return "", rest


def _raw_password(url: str) -> str:
    """The password as written (empty when there is none)."""
    return _user_and_rest(url)[0].partition(":")[2]


def masked(url: str) -> str:
    """The URL with its password (in the user part or a `password=` option) replaced."""
    if not url.lower().startswith(tuple(f"{s}://" for s in POSTGRES_SCHEMES)):
        return url  # a path or sqlite:///…, which holds no password
    scheme = url.partition("://")[0]
    user, rest = _user_and_rest(url)
    if ":" in user:
        user = f"{user.partition(':')[0]}:{HIDDEN}"
    address, question, query = rest.partition("?")
    if "password" in query:
        options = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, HIDDEN if k == "password" else v) for k, v in options], safe="*/:@")
    shown = f"{scheme}://{user + '@' if user else ''}{address}{question}{query}"
    for secret in secrets_of(url):  # whatever another reading of the URL takes for one
        shown = shown.replace(secret, HIDDEN)
    return shown


def secrets_of(url: str) -> list[str]:
    """Every reading of the password a URL holds, as written and decoded, for masking
    (bot.logs, the driver's words): urlsplit's, the one written before the options, and
    `password=` options."""
    if "://" not in url:
        return []
    found = [_raw_password(url)]
    try:
        found.append(urlsplit(url).password or "")
    except ValueError:  # a URL urlsplit cannot read at all
        pass
    query = url.partition("?")[2]
    found += [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "password"]
    found = [f for f in found if f]
    return sorted({*found, *(unquote(v) for v in found)} - {""}, key=len, reverse=True)
