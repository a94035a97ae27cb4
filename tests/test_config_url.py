"""DATABASE_URL: every accepted form, every refused one with a message naming what to write,
DATABASE_PATH still honoured (and a clash with it said as such), and a password never shown
— not in a message, a repr, a log line or `appealdesk check`."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import unicodedata
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import ConfigError, Settings, load_settings
from storage import open_database, parse_database_url
from storage.db import Database
from storage.factory import (
    ACCEPTED,
    POSTGRESQL,
    SQLITE,
    BadDatabaseUrl,
    masked,
    pg_dump_recipe,
    secrets_of,
)
from storage.urls import folds_into

SECRET = "s3cr#t:p@ss"
ENCODED = quote(SECRET, safe="")
NAMES = ("DATABASE_URL", "DATABASE_PATH", "APPEALDESK_ENV_FILE", "BOT_TOKEN", "ORG_CONFIG")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


ACCEPTED_FORMS = [
    # (DATABASE_URL, kind, SQLite file, normalised URL)
    ("appealdesk.sqlite3", SQLITE, "appealdesk.sqlite3", "sqlite:///appealdesk.sqlite3"),
    ("data/bot.db", SQLITE, "data/bot.db", "sqlite:///data/bot.db"),
    ("/var/lib/a.sqlite3", SQLITE, "/var/lib/a.sqlite3", "sqlite:////var/lib/a.sqlite3"),
    ("  bot.sqlite3  ", SQLITE, "bot.sqlite3", "sqlite:///bot.sqlite3"),
    ("sqlite:///relative/a.sqlite3", SQLITE, "relative/a.sqlite3", None),
    ("sqlite:////absolute/a.sqlite3", SQLITE, "/absolute/a.sqlite3", None),
    ("SQLite:///a.sqlite3", SQLITE, "a.sqlite3", "sqlite:///a.sqlite3"),
    ("postgresql://appealdesk@db.example/appealdesk", POSTGRESQL, None, None),
    (f"postgresql://appealdesk:{ENCODED}@db.example:5432/appealdesk", POSTGRESQL, None, None),
    ("postgresql://u@10.0.0.5/appealdesk?sslmode=verify-full", POSTGRESQL, None, None),
    (
        "postgresql://u@[::1]:6432/appealdesk?sslmode=require&connect_timeout=5",
        POSTGRESQL,
        None,
        None,
    ),
    ("postgres://u@db/appealdesk", POSTGRESQL, None, None),
    ("postgresql:///appealdesk", POSTGRESQL, None, None),  # the local socket
]


@pytest.mark.parametrize(("url", "kind", "path", "normal"), ACCEPTED_FORMS)
def test_every_accepted_form(url, kind, path, normal):
    target = parse_database_url(url)
    assert target.backend == kind
    assert target.path == (Path(path) if path else None)
    if kind == SQLITE:
        assert target.url == (normal or url.strip())
    else:
        assert target.url == url
    loaded = load_settings(database_url=url)
    assert loaded.database_url == target.url and loaded.database_path == target.path
    assert loaded.on_sqlite is (kind == SQLITE)
    assert SECRET not in repr(loaded) and ENCODED not in repr(loaded)


REFUSED_FORMS = [
    # (DATABASE_URL, what the one line says)
    ("", "is empty"),
    ("   ", "is empty"),
    ("sqlite://a.sqlite3", "three slashes"),
    ("sqlite:///", "three slashes"),
    ("sqlite:///:memory:", "must name a database file"),
    ("sqlite:///a.sqlite3?mode=ro", "must name a database file"),
    ("sqlite:///data/", "must name a database file"),
    ("sqlite:a.sqlite3", "is not a URL"),
    ("postgresql:db", "is not a URL"),
    ("mysql://u@h/appealdesk", "unknown kind of database 'mysql://'"),
    ("postgresql+psycopg://u@h/appealdesk", "unknown kind of database"),
    ("https://example.com/appealdesk", "unknown kind of database"),
    ("postgresql://u@h", "name the database after the host"),
    ("postgresql://u@h/", "name the database after the host"),
    ("postgresql://u@h/app/desk", "one database name"),
    ("postgresql://u@h:port/appealdesk", "the port must be a number"),
    ("postgresql://u@h:99999/appealdesk", "the port must be a number"),
    ("postgresql://u@h/appealdesk?sslmode=on", "sslmode must be one of"),
    ("postgresql://u@h/appealdesk#main", "remove the '#…' part"),
    ("postgresql://u@[::1/appealdesk", "cannot be read as a URL"),
]


@pytest.mark.parametrize(("url", "said"), REFUSED_FORMS)
def test_every_refused_form_is_one_line_naming_what_to_write(url, said, capsys, monkeypatch):
    with pytest.raises(ConfigError) as caught:
        load_settings(database_url=url)
    message = str(caught.value)
    assert message.startswith("setting DATABASE_URL: ") and said in message, message
    if "unknown kind" in said or "is not a URL" in said:
        assert ACCEPTED in message
    # the command line: one line, status 2, nothing created
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["export", "ledger.xlsx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err
    assert list(Path().iterdir()) == []


@pytest.mark.parametrize("url", [r for r, _ in REFUSED_FORMS if r.startswith("postgres")])
def test_a_refused_url_never_shows_its_password(url):
    with_secret = url.replace("://u@", f"://u:{ENCODED}@")
    with_secret = with_secret if with_secret != url else url + f"?password={ENCODED}"
    with pytest.raises(ConfigError) as caught:
        load_settings(database_url=with_secret)
    assert ENCODED not in str(caught.value) and SECRET not in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(
    password=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1),
    in_query=st.booleans(),
)
def test_no_password_survives_masking(password, in_query):
    """Whatever the password (quoted as a URL must hold it), masked() shows none of it."""
    secret = "PW" + password
    encoded = quote(secret, safe="")
    url = (
        f"postgresql://u@db.example:5432/appealdesk?sslmode=require&password={encoded}"
        if in_query
        else f"postgresql://u:{encoded}@db.example:5432/appealdesk?sslmode=require"
    )
    shown = masked(url)
    assert encoded not in shown and secret not in shown
    assert "db.example:5432/appealdesk" in shown and "***" in shown
    assert secret in secrets_of(url)
    assert encoded not in pg_dump_recipe(url, Path("a.dump"))
    target = load_settings(database_url=url)
    assert encoded not in target.database_shown and encoded not in repr(target)
    if importlib.util.find_spec("psycopg") is not None:  # the server's one-line refusal too
        from storage.postgres.database import PostgresDatabase, ServerUnusable

        said = str(ServerUnusable(url, "cannot be reached"))
        assert encoded not in said and secret not in said and "***" in said
        assert encoded not in repr(PostgresDatabase(url))


# DATABASE_PATH, the old spelling ------------------------------------------------------------


def test_no_setting_is_the_file_it_always_was():
    loaded = load_settings()
    assert loaded.database_path == Path("appealdesk.sqlite3")
    assert loaded.database_url == "sqlite:///appealdesk.sqlite3"


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("bot.sqlite3", None),
        ("bot.sqlite3", "bot.sqlite3"),
        ("bot.sqlite3", "sqlite:///bot.sqlite3"),
        ("./bot.sqlite3", "sqlite:///bot.sqlite3"),
        ("{cwd}/bot.sqlite3", "sqlite:///bot.sqlite3"),  # the same file, spelt otherwise
    ],
)
def test_database_path_still_works_alone_or_naming_the_same_file(monkeypatch, path, url):
    monkeypatch.setenv("DATABASE_PATH", path.format(cwd=Path.cwd()))
    if url is not None:
        monkeypatch.setenv("DATABASE_URL", url)
    loaded = load_settings()
    assert loaded.database_path is not None
    assert loaded.database_path.resolve() == (Path.cwd() / "bot.sqlite3").resolve()
    assert loaded.database_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    "url", ["other.sqlite3", "sqlite:////elsewhere/bot.sqlite3", f"postgresql://u:{ENCODED}@h/db"]
)
def test_database_path_and_a_different_database_url_are_a_clear_error(monkeypatch, capsys, url):
    monkeypatch.setenv("DATABASE_PATH", "bot.sqlite3")
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "DATABASE_URL" in message and "DATABASE_PATH (bot.sqlite3)" in message
    assert "name different databases" in message and ENCODED not in message
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  settings: settings: DATABASE_URL" in out and ENCODED not in out


def test_a_relative_sqlite_url_in_an_env_file_is_taken_from_its_folder(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "bot.env").write_text("DATABASE_URL=sqlite:///data/bot.sqlite3\n", encoding="utf-8")
    loaded = load_settings(etc / "bot.env")
    assert loaded.database_path == etc / "data" / "bot.sqlite3"
    assert loaded.database_url == f"sqlite:///{etc}/data/bot.sqlite3"
    (etc / "pg.env").write_text("DATABASE_URL=postgresql://u@h/appealdesk\n", encoding="utf-8")
    assert load_settings(etc / "pg.env").database_url == "postgresql://u@h/appealdesk"


def test_a_copy_of_the_settings_keeps_url_and_path_together():
    base = Settings(_env_file=None)
    moved = base.model_copy(update={"database_path": Path("/tmp/x.sqlite3")})
    assert moved.database_url == "sqlite:////tmp/x.sqlite3"
    remote = base.model_copy(update={"database_url": "postgresql://u@h/appealdesk"})
    assert remote.database_path is None and not remote.on_sqlite


# open_database ------------------------------------------------------------------------------


def test_open_database_builds_the_sqlite_backend_without_a_postgresql_driver(tmp_path):
    db = open_database(f"sqlite:///{tmp_path}/a.sqlite3")
    assert isinstance(db, Database) and db.path == tmp_path / "a.sqlite3"
    assert isinstance(open_database("plain.sqlite3"), Database)
    # the whole SQLite path, settings to the bot's environment, loads no PostgreSQL driver
    code = (
        "import sys; from bot.config import load_settings, load_org; from bot.app import make_env;"
        " s = load_settings(); make_env(s, load_org(s.org_config));"
        " print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'storage.postgres'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_open_database_builds_the_postgresql_backend():
    postgres = pytest.importorskip("storage.postgres", reason="the PostgreSQL adapter is not here")
    db = open_database("postgresql://u@127.0.0.1:1/appealdesk")
    assert isinstance(db, postgres.PostgresDatabase)


def test_a_password_is_masked_in_log_lines(monkeypatch, capsys, caplog):
    """`appealdesk` hands the URL's password to the log masking, as it does the token."""
    url = f"postgresql://u:{ENCODED}@127.0.0.1:1/appealdesk?connect_timeout=1"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["migrate", "status"]) != 0
    logging.getLogger("x").error("connecting with %s and %s", url, SECRET)
    err = capsys.readouterr().err
    assert "database: postgresql://u:***@127.0.0.1:1/appealdesk" in err
    assert SECRET not in err and ENCODED not in err


# every character NFKC folds into something holding a URL delimiter (：＠／？＃［］﹕ …):
# urlsplit refuses an address holding one, with the address in its words
FOLDING = sorted(
    c
    for c in map(chr, range(0x80, sys.maxunicode + 1))
    if unicodedata.category(c) != "Cs" and folds_into(c, ":/?#@[]")
)
PASSWORDS = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")),
        st.sampled_from(FOLDING),
    ),
    min_size=4,
).filter(lambda p: p.strip() == p and p not in SHOWN_WITHOUT_IT)
# what a masked URL shows besides the password: a password that is a piece of it is no test
SHOWN_WITHOUT_IT = "postgresql://desk:***@db.example:5432/appealdesk?sslmode=require"


@settings(max_examples=300, deadline=None)
@given(password=PASSWORDS, query=st.sampled_from(["", "?sslmode=require"]))
def test_a_password_as_written_is_never_shown(password, query):
    """Whatever characters a password holds, written raw into the URL (URLs reserve some:
    `sec#ret`, `p@ss/w`): the URL is refused or accepted, and neither the message nor the
    masked URL shows the password; percent-encoded, it is always accepted, shown masked, and
    named among the secrets the logs hide."""
    raw = f"postgresql://desk:{password}@db.example:5432/appealdesk{query}"
    try:
        parse_database_url(raw)
    except BadDatabaseUrl as exc:
        assert password not in str(exc)
        assert any(c in "@/#?[]" or c in FOLDING for c in password), str(exc)
    else:
        assert password not in masked(raw)
    encoded = f"postgresql://desk:{quote(password, safe='')}@db.example:5432/appealdesk{query}"
    target = parse_database_url(encoded)
    assert password not in target.shown and quote(password, safe="") not in target.shown
    assert target.shown == f"postgresql://desk:***@db.example:5432/appealdesk{query}"
    assert password in secrets_of(encoded)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql://u@h/db?password=s3cr@t&sslmode=require", "s3cr@t"),
        ("postgresql://u@h:5432/db?password=a@b", "a@b"),
        ("postgresql://u:p%40ss@h/db?sslmode=require", "p@ss"),
        ("postgresql://u@h/db?options=-c%20x@y&password=hunter22", "hunter22"),
    ],
)
def test_an_at_sign_in_the_options_is_no_user_part(url, secret):
    """The options may hold an `@` of their own: the URL is accepted, its password (in the
    user part or an option) found among the secrets and never shown."""
    target = parse_database_url(url)
    assert secret in secrets_of(url) and secret not in target.shown
    assert target.shown.startswith("postgresql://u") and "@h" in target.shown


@pytest.mark.parametrize("password", ["sec#ret", "p@ss:w/rd", "p@ss", "a?b=c", "x[1]"])
def test_a_reserved_character_in_the_password_is_named_not_shown(password, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://appealdesk:{password}@127.0.0.1:1/desk")
    assert main(["migrate", "status"]) != 0
    out, err = capsys.readouterr()
    assert password not in out + err
    assert "percent-encode" in out + err


def test_the_characters_that_fold_into_delimiters_are_many():
    assert {"：", "＠", "／", "？", "＃", "［", "］", "﹕"} <= set(FOLDING)
    assert len(FOLDING) > 20


@pytest.mark.parametrize("character", FOLDING)
def test_a_character_that_folds_into_a_delimiter_is_refused_in_one_line(character, capsys):
    """Anywhere in a URL setting (a password, a user, a host): one line naming what to
    write, never urlsplit's words (which quote the address, password and all) nor a crash;
    percent-encoded in the password, the URL is accepted."""
    password = f"pw{character}{SECRET}"
    # urlsplit refuses what folds into / ? # @ : in the address; the password refuses [ ] too
    unreadable = folds_into(character, "/?#@:")
    for url, refused in (
        (f"postgresql://desk:{password}@db.example:5432/appealdesk", True),
        (f"postgresql://de{character}sk:{ENCODED}@db.example/appealdesk", unreadable),
        (f"postgresql://desk:{ENCODED}@db{character}example/appealdesk", unreadable),
    ):
        try:
            load_settings(database_url=url)
        except ConfigError as caught:
            said = str(caught)
            assert said.startswith("setting DATABASE_URL: ") and "\n" not in said
            assert "percent-encode" in said, said
            assert password not in said and SECRET not in said and ENCODED not in said
        else:
            assert not refused, url
    encoded = f"postgresql://desk:{quote(password, safe='')}@db.example:5432/appealdesk"
    assert parse_database_url(encoded).shown == "postgresql://desk:***@db.example:5432/appealdesk"
    for name, url in (
        ("webhook_url", f"https://bot.example{character}gov.cn/telegram"),
        ("telegram_proxy", f"http://proxy:{password}@proxy.example:3128"),
        ("telegram_base_url", f"https://api.example{character}org/bot"),
    ):
        try:
            load_settings(**{name: url})
        except ConfigError as caught:
            said = str(caught)
            assert "\n" not in said and password not in said and SECRET not in said, said
            assert not unreadable or "percent-encoded" in said, said
        else:
            assert not unreadable, url


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("webhook_url", "https://bot.example:port/telegram"),
        ("webhook_url", "https://bot.example:70000/telegram"),
        ("webhook_url", "https://bot.example:0/telegram"),
        ("telegram_proxy", "http://u:pw@proxy:abc"),
        ("telegram_base_url", "https://api.telegram.org:99999/bot"),
    ],
)
def test_a_url_setting_with_a_port_that_is_no_number_is_refused(name, url):
    with pytest.raises(ConfigError) as caught:
        load_settings(**{name: url})
    assert "port must be a number from 1 to 65535" in str(caught.value)
    assert ":pw@" not in str(caught.value)
