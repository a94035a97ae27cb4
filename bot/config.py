"""Process settings from the environment or `.env` (pydantic-settings)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import SplitResult
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.rules.org import OrgConfig
from storage.factory import BadDatabaseUrl, parse_database_url, same_file, split_url, sqlite_url

BUNDLED_ORG_CONFIG = Path(__file__).parent / "resources" / "org.toml"
DEFAULT_DATABASE = Path("appealdesk.sqlite3")
# Names an env file to read instead of `.env` in the current folder (as --env-file does).
ENV_FILE_VARIABLE = "APPEALDESK_ENV_FILE"
PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
# Telegram's rule for a webhook's secret token.
WEBHOOK_SECRET_FORM = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ConfigError(Exception):
    """A setting or the org config is missing or wrong; the message is one line."""


def _port_of(parts: SplitResult) -> int | None:
    """The URL's port; a ValueError saying so (not urlsplit's words, which quote the
    address) when it is not a number from 1 to 65535."""
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("the port must be a number from 1 to 65535")
    return port


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    # Reach Telegram through a proxy: http://host:port, socks5://user:pass@host:port, …
    telegram_proxy: str | None = None
    # The database: a file path, sqlite:///… or postgresql://… (storage.factory.ACCEPTED).
    # Never in a repr or a message with its password (`database_shown`).
    database_url: str | None = Field(default=None, repr=False)
    # Deprecated spelling of a SQLite DATABASE_URL; after validation, the SQLite file (None
    # on PostgreSQL).
    database_path: Path | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    timezone: str = "Asia/Shanghai"
    org_config: Path = BUNDLED_ORG_CONFIG
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    # How long a prompt (a reply, a draft, a registration step) waits for the user's input.
    prompt_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    sweep_time: str = "09:00"
    digest_time: str = "09:00"
    digest_weekday: int = Field(default=1, ge=1, le=7)  # ISO: 1 = Monday
    # `appealdesk run --webhook` (docs/operations.md, "Several instances"): the public URL
    # Telegram posts updates to (its path is the path served), where to listen (TLS is a
    # reverse proxy's), and the secret Telegram sends back with every update.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1:8443"
    webhook_secret: SecretStr | None = Field(default=None, repr=False)

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token_or_none(cls, value: object) -> object:
        # `BOT_TOKEN=` (as .env.example ships it) means no token: the sandbox, never a bot
        # started with an empty or blank token.
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            if any(ch.isspace() for ch in value):
                raise ValueError("contains spaces (copy the token from @BotFather again)")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("database_path", "org_config", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        # `DATABASE_PATH=` would otherwise be the current folder (Path("") is "."); an empty
        # DATABASE_URL is refused by its own check.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty (give a file path, or remove the line for the default)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return parse_database_url(value).url
        except BadDatabaseUrl as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _one_database(self) -> Settings:
        """DATABASE_URL, else DATABASE_PATH, else appealdesk.sqlite3; both naming different
        databases is a mistake said as such (which one was meant cannot be guessed)."""
        if self.database_url is None:
            path = self.database_path or DEFAULT_DATABASE
            self.database_url, self.database_path = sqlite_url(path), path
            return self
        target = parse_database_url(self.database_url)
        given = self.database_path
        if given is not None and (target.path is None or not same_file(target.path, given)):
            raise ValueError(
                f"DATABASE_URL ({target.shown}) and DATABASE_PATH ({given}) name different"
                " databases: keep DATABASE_URL and remove DATABASE_PATH (its old spelling)"
            )
        self.database_path = target.path
        return self

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Settings:
        """A copy; one of DATABASE_URL / DATABASE_PATH changed changes the other with it
        (model_copy does not validate, and the two must never name different databases)."""
        update = dict(update or {})
        if "database_url" in update and "database_path" not in update:
            update["database_path"] = parse_database_url(update["database_url"]).path
        elif "database_path" in update and "database_url" not in update:
            update["database_url"] = sqlite_url(Path(update["database_path"]))
        return super().model_copy(update=update, deep=deep)

    @property
    def database_shown(self) -> str:
        """The database as messages and logs name it: the file, or the URL without password."""
        return parse_database_url(self.database_url or "").shown

    @property
    def on_sqlite(self) -> bool:
        return self.database_path is not None

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = split_url(value.strip())
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or parts.scheme == "http" and local):
            raise ValueError(
                "must be the public https:// URL Telegram posts to, e.g."
                " https://bot.example.gov.cn/telegram (http:// only on 127.0.0.1)"
            )
        _port_of(parts)
        return value.strip()

    @field_validator("webhook_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8443")
        return value.strip()

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _secret_token(cls, value: object) -> object:
        if value is None or isinstance(value, str) and not value.strip():
            return None
        text = str(value.get_secret_value() if isinstance(value, SecretStr) else value)
        if not WEBHOOK_SECRET_FORM.fullmatch(text):
            raise ValueError("must be 1–256 characters of A–Z, a–z, 0–9, _ and - (Telegram's rule)")
        return text

    @property
    def webhook_address(self) -> tuple[str, int]:
        """WEBHOOK_LISTEN as (host, port)."""
        host, _, port = self.webhook_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def webhook_path(self) -> str:
        """The path of WEBHOOK_URL: where updates are served."""
        return split_url(self.webhook_url or "").path or "/"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        _port_of(split_url(value))
        return value

    @field_validator("telegram_proxy")
    @classmethod
    def _proxy_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = split_url(value.strip())
        if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
            raise ValueError(
                "must look like http://host:port or socks5://host:port"
                f" (schemes: {', '.join(PROXY_SCHEMES)})"
            )
        _port_of(parts)
        return value.strip()

    @field_validator("sweep_time", "digest_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a time of day like 09:00") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sweep_at(self) -> time:
        """When the daily reminder sweep runs, in the configured time zone."""
        return time.fromisoformat(self.sweep_time).replace(tzinfo=self.zone)

    @property
    def digest_at(self) -> time:
        """When the weekly 督察通报 goes out on `digest_weekday`."""
        return time.fromisoformat(self.digest_time).replace(tzinfo=self.zone)


def load_settings(env_file: str | Path | None = None, **overrides: object) -> Settings:
    """Read settings from the environment and an env file: `env_file`, else the file named
    by APPEALDESK_ENV_FILE, else `.env` in the current folder. Relative paths in a named env
    file (DATABASE_PATH, ORG_CONFIG) are taken from that file's folder, so the bot finds its
    database wherever it is started from. Any problem becomes a ConfigError naming it."""
    named = env_file or os.environ.get(ENV_FILE_VARIABLE) or None
    if named is not None and Path(named).is_dir():
        raise ConfigError(f"env file {named} is a folder (give the settings file in it)")
    if named is not None and not Path(named).is_file():
        raise ConfigError(f"env file not found: {named}")
    try:
        settings = Settings(_env_file=named, **overrides) if named else Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a problem between settings, which says their names itself
            raise ConfigError(f"settings: {first['msg'].removeprefix('Value error, ')}") from None
        raise ConfigError(f"setting {str(first['loc'][0]).upper()}: {first['msg']}") from None
    if named is not None:
        folder = Path(named).resolve().parent
        if not settings.org_config.is_absolute() and "org_config" not in overrides:
            settings.org_config = folder / settings.org_config
        path = settings.database_path
        chosen = "database_url" in overrides or "database_path" in overrides
        if path is not None and not path.is_absolute() and not chosen:
            settings.database_path = folder / path
            settings.database_url = sqlite_url(folder / path)
    return settings


def load_org(path: Path) -> OrgConfig:
    """Read and validate the org config (TOML); problems become a one-line ConfigError."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"setting ORG_CONFIG: file not found: {path}") from None
    except OSError as exc:  # a folder, no permission, …
        raise ConfigError(f"setting ORG_CONFIG: cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"setting ORG_CONFIG: {path} is not valid TOML: {exc}") from None
    try:
        return OrgConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ConfigError(f"setting ORG_CONFIG: {path}: {where}: {first['msg']}") from None
