"""Numbered schema migrations, applied in order at start-up and recorded in the database.

One list for both backends. Each step's `sql` is what SQLite runs, byte for byte what
existing databases already applied (never edit a step that has shipped: add one). PostgreSQL
runs the same text rendered by `postgresql_sql`: column types from the names (surrogate ids
become identity columns, moments `timestamptz`, days `date`, JSON payloads `jsonb`, ids
`bigint`, counts `integer`), and the few passages it must write differently (trigger bodies
in plpgsql, a foreign key to a table created later, a sequence) given per step in `postgresql`.
`migrations_for(dialect_name)` gives a backend its list; `MIGRATIONS` is SQLite's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step. `postgresql`: (SQLite passage, PostgreSQL text) pairs, each passage
    found exactly once in `sql` and replaced before the types are rendered."""

    version: int
    sql: str
    postgresql: tuple[tuple[str, str], ...] = ()


# The SQLite text of each passage PostgreSQL writes differently, written once: the step's
# SQL takes it from here (byte for byte what shipped) and so does its (passage, PostgreSQL
# text) pair below.
_BAOBAO_COLUMN = "baobao_user_id  INTEGER REFERENCES users(tg_id),"
_USERS_DEPARTMENT_INDEX = "        CREATE INDEX users_department ON users(department_id);\n"
_AUDIT_APPEND_ONLY = """\
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
"""
_TALLY_TRIGGERS = """\
        CREATE TRIGGER appeals_changed_insert AFTER INSERT ON appeals BEGIN
            INSERT OR IGNORE INTO appeal_changes VALUES (new.id, new.created_at);
        END;
        CREATE TRIGGER appeals_changed_update AFTER UPDATE ON appeals BEGIN
            INSERT OR IGNORE INTO appeal_changes VALUES (new.id, new.created_at);
        END;
        CREATE TRIGGER appeals_changed_delete AFTER DELETE ON appeals BEGIN
            INSERT OR IGNORE INTO appeal_changes VALUES (old.id, old.created_at);
        END;
"""
_LIST_IDS_NOTE = "        -- outbox list numbers: MAX(list_id) + 1 under the one writer\n"
_SUBJECT_BYTES_NOTE = "        -- audit subjects: SQLite compares text by code point already\n"

# DIALECT SQL (migration 1). PostgreSQL checks a foreign key when it is declared, so the
# one to `users`, created after `enterprises`, is added once both exist (same constraint
# name as if declared inline). The audit trail refuses changes with a plpgsql trigger
# function; TRUNCATE, which SQLite lacks and row triggers do not see, is refused too.
_PG_FIRST = (
    (_BAOBAO_COLUMN, "baobao_user_id  INTEGER,"),
    (
        _USERS_DEPARTMENT_INDEX,
        "        ALTER TABLE enterprises ADD CONSTRAINT enterprises_baobao_user_id_fkey\n"
        "            FOREIGN KEY (baobao_user_id) REFERENCES users(tg_id);\n"
        + _USERS_DEPARTMENT_INDEX,
    ),
    (
        _AUDIT_APPEND_ONLY,
        """\
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_events is append-only';
        END $$;
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
            FOR EACH ROW EXECUTE PROCEDURE audit_events_append_only();
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
            FOR EACH ROW EXECUTE PROCEDURE audit_events_append_only();
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
            FOR EACH STATEMENT EXECUTE PROCEDURE audit_events_append_only();
""",
    ),
)

# DIALECT SQL (migration 7): one plpgsql function behind the three triggers SQLite writes
# with bodies of their own. Where SQLite says `INSERT OR IGNORE` (its one writer at a time
# makes that enough), an appeal already noted is updated here (`DO UPDATE`: a row lock), so a
# tally refresh's `DELETE FROM appeal_changes` waits for the writer's COMMIT and its recount
# sees the change; `DO NOTHING` takes no lock, and a change committed after the recount read
# the appeal would be lost.
# (`EXECUTE PROCEDURE`: PostgreSQL 11+ also spells it EXECUTE FUNCTION; the older spelling
# is the one the PostgreSQL-dialect databases derived from older releases accept.)
_PG_TALLY_TRIGGERS = (
    (
        _TALLY_TRIGGERS,
        """\
        CREATE FUNCTION appeals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO appeal_changes VALUES (OLD.id, OLD.created_at)
                    ON CONFLICT (appeal_id) DO UPDATE SET created_at = excluded.created_at;
            ELSE
                INSERT INTO appeal_changes VALUES (NEW.id, NEW.created_at)
                    ON CONFLICT (appeal_id) DO UPDATE SET created_at = excluded.created_at;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER appeals_changed_insert AFTER INSERT ON appeals
            FOR EACH ROW EXECUTE PROCEDURE appeals_changed();
        CREATE TRIGGER appeals_changed_update AFTER UPDATE ON appeals
            FOR EACH ROW EXECUTE PROCEDURE appeals_changed();
        CREATE TRIGGER appeals_changed_delete AFTER DELETE ON appeals
            FOR EACH ROW EXECUTE PROCEDURE appeals_changed();
""",
    ),
)

# DIALECT SQL (migration 15): the numbers of notice lists. Two couriers forming lists at once
# would both read the same MAX(list_id) (neither sees the other's uncommitted list): a
# sequence never gives a number twice. Owned by the column, so that `copy-db` sets it past
# the copied numbers as it does identity columns' sequences.
_PG_LIST_IDS = (
    (
        _LIST_IDS_NOTE,
        "        CREATE SEQUENCE outbox_list_ids AS bigint OWNED BY outbox.list_id;\n"
        "        SELECT setval('outbox_list_ids', COALESCE(MAX(list_id), 0) + 1, false)"
        " FROM outbox;\n",
    ),
)

# DIALECT SQL (migration 16): the audit trail's subjects are compared by code point
# (Dialect.byte_wise: a range of them, `task:` to `task;`, holds under any collation); the
# index that serves those reads is made with the same COLLATE, or PostgreSQL reads the whole
# trail for them.
_PG_SUBJECT_BYTES = (
    (
        _SUBJECT_BYTES_NOTE,
        "        DROP INDEX audit_events_subject;\n"
        '        CREATE INDEX audit_events_subject ON audit_events(subject COLLATE "C", id);\n',
    ),
)

STEPS: list[Migration] = [
    Migration(
        1,
        f"""
        CREATE TABLE departments (
            id       INTEGER PRIMARY KEY,
            code     TEXT NOT NULL UNIQUE,
            name     TEXT NOT NULL,
            chat_id  INTEGER
        );
        CREATE TABLE enterprises (
            id              INTEGER PRIMARY KEY,
            name            TEXT NOT NULL,
            uscc            TEXT NOT NULL UNIQUE,
            contact_name    TEXT NOT NULL,
            phone           TEXT NOT NULL,
            {_BAOBAO_COLUMN}
            created_at      TEXT NOT NULL
        );
        CREATE TABLE users (
            tg_id          INTEGER PRIMARY KEY,
            role           TEXT NOT NULL CHECK (role IN ('enterprise', 'official', 'head')),
            full_name      TEXT NOT NULL,
            department_id  INTEGER REFERENCES departments(id),
            enterprise_id  INTEGER REFERENCES enterprises(id),
            created_at     TEXT NOT NULL,
            CHECK ((role = 'enterprise') = (enterprise_id IS NOT NULL)),
            CHECK ((role = 'enterprise') = (department_id IS NULL))
        );
{_USERS_DEPARTMENT_INDEX}        CREATE TABLE invites (
            code           TEXT PRIMARY KEY,
            department_id  INTEGER NOT NULL REFERENCES departments(id),
            is_head        INTEGER NOT NULL,
            created_by     INTEGER NOT NULL,
            created_at     TEXT NOT NULL,
            expires_at     TEXT NOT NULL,
            used_by        INTEGER,
            used_at        TEXT
        );
        CREATE TABLE appeal_counters (
            year      INTEGER PRIMARY KEY,
            last_seq  INTEGER NOT NULL
        );
        CREATE TABLE appeals (
            id                INTEGER PRIMARY KEY,
            number            TEXT NOT NULL UNIQUE,
            enterprise_id     INTEGER NOT NULL REFERENCES enterprises(id),
            filed_by          INTEGER NOT NULL REFERENCES users(tg_id),
            category          TEXT NOT NULL,
            description       TEXT NOT NULL,
            state             TEXT NOT NULL,
            department_id     INTEGER NOT NULL REFERENCES departments(id),
            assignee_id       INTEGER REFERENCES users(tg_id),
            owner_id          INTEGER REFERENCES users(tg_id),
            claim_due_date    TEXT NOT NULL,
            due_date          TEXT NOT NULL,
            created_at        TEXT NOT NULL,
            claimed_at        TEXT,
            closed_at         TEXT,
            resolution        TEXT,
            rating            TEXT,
            rating_due_date   TEXT,
            rated_at          TEXT,
            reopen_count      INTEGER NOT NULL DEFAULT 0,
            version           INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX appeals_department_state ON appeals(department_id, state);
        CREATE INDEX appeals_enterprise ON appeals(enterprise_id, id);
        CREATE INDEX appeals_state_due ON appeals(state, due_date);
        CREATE TABLE appeal_messages (
            id          INTEGER PRIMARY KEY,
            appeal_id   INTEGER NOT NULL REFERENCES appeals(id),
            author_id   INTEGER NOT NULL,
            kind        TEXT NOT NULL
                        CHECK (kind IN ('reply', 'note', 'supplement', 'rating_comment')),
            text        TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE INDEX appeal_messages_appeal ON appeal_messages(appeal_id, id);
        CREATE TABLE attachments (
            id              INTEGER PRIMARY KEY,
            appeal_id       INTEGER NOT NULL REFERENCES appeals(id),
            message_id      INTEGER REFERENCES appeal_messages(id),
            kind            TEXT NOT NULL CHECK (kind IN ('photo', 'document')),
            file_id         TEXT NOT NULL,
            file_unique_id  TEXT NOT NULL,
            file_name       TEXT,
            created_at      TEXT NOT NULL
        );
        CREATE INDEX attachments_appeal ON attachments(appeal_id);
        CREATE TABLE audit_events (
            id          INTEGER PRIMARY KEY,
            subject     TEXT NOT NULL,
            appeal_id   INTEGER REFERENCES appeals(id),
            actor_id    INTEGER,
            action      TEXT NOT NULL,
            from_state  TEXT,
            to_state    TEXT,
            detail      TEXT,
            created_at  TEXT NOT NULL
        );
        CREATE INDEX audit_events_appeal ON audit_events(appeal_id, id);
{_AUDIT_APPEND_ONLY}        CREATE TABLE processed_updates (
            update_id   INTEGER NOT NULL,
            actor_id    INTEGER NOT NULL,
            action      TEXT NOT NULL,
            ref         INTEGER,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (update_id, actor_id)
        );
        """,
        postgresql=_PG_FIRST,
    ),
    Migration(
        2,
        """
        CREATE INDEX appeals_state_claim_due ON appeals(state, claim_due_date);
        CREATE TABLE notice_counters (
            family   TEXT NOT NULL,
            year     INTEGER NOT NULL,
            last_no  INTEGER NOT NULL,
            PRIMARY KEY (family, year)
        );
        CREATE TABLE notices (
            id            INTEGER PRIMARY KEY,
            subject       TEXT NOT NULL CHECK (subject IN ('appeal', 'task')),
            subject_id    INTEGER NOT NULL,
            kind          TEXT NOT NULL,
            period        TEXT NOT NULL,
            family        TEXT NOT NULL,
            serial_year   INTEGER NOT NULL,
            serial_no     INTEGER NOT NULL,
            detail        TEXT,
            created_at    TEXT NOT NULL,
            delivered_at  TEXT,
            UNIQUE (subject, subject_id, kind, period),
            UNIQUE (family, serial_year, serial_no)
        );
        CREATE INDEX notices_undelivered ON notices(id) WHERE delivered_at IS NULL;
        CREATE TABLE notice_deliveries (
            notice_id  INTEGER NOT NULL REFERENCES notices(id),
            chat_id    INTEGER NOT NULL,
            sent_at    TEXT NOT NULL,
            error      TEXT,
            PRIMARY KEY (notice_id, chat_id)
        );
        CREATE TABLE extensions (
            id            INTEGER PRIMARY KEY,
            appeal_id     INTEGER NOT NULL REFERENCES appeals(id),
            requested_by  INTEGER NOT NULL REFERENCES users(tg_id),
            old_due_date  TEXT NOT NULL,
            new_due_date  TEXT NOT NULL,
            reason        TEXT NOT NULL,
            state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
            decided_by    INTEGER,
            decided_at    TEXT,
            created_at    TEXT NOT NULL
        );
        CREATE UNIQUE INDEX extensions_one_pending ON extensions(appeal_id)
            WHERE state = 'pending';
        CREATE TABLE tasks (
            id               INTEGER PRIMARY KEY,
            seq              INTEGER NOT NULL UNIQUE,
            aspect           TEXT NOT NULL,
            problem          TEXT NOT NULL,
            measures         TEXT NOT NULL,
            leader_name      TEXT NOT NULL,
            department_name  TEXT NOT NULL,
            owner_name       TEXT NOT NULL,
            deadline         TEXT NOT NULL,
            state            TEXT NOT NULL
                             CHECK (state IN ('in_progress', 'close_requested', 'done',
                                              'deemed_done')),
            version          INTEGER NOT NULL DEFAULT 1,
            created_at       TEXT NOT NULL,
            updated_at       TEXT NOT NULL
        );
        CREATE INDEX tasks_state_deadline ON tasks(state, deadline);
        CREATE INDEX tasks_owner ON tasks(owner_name);
        CREATE TABLE task_reports (
            id          INTEGER PRIMARY KEY,
            task_id     INTEGER NOT NULL REFERENCES tasks(id),
            author_id   INTEGER NOT NULL,
            kind        TEXT NOT NULL CHECK (kind IN ('progress', 'decision')),
            text        TEXT NOT NULL,
            created_at  TEXT NOT NULL
        );
        CREATE TABLE task_attachments (
            id              INTEGER PRIMARY KEY,
            task_id         INTEGER NOT NULL REFERENCES tasks(id),
            report_id       INTEGER REFERENCES task_reports(id),
            kind            TEXT NOT NULL CHECK (kind IN ('photo', 'document')),
            file_id         TEXT NOT NULL,
            file_unique_id  TEXT NOT NULL,
            file_name       TEXT,
            created_at      TEXT NOT NULL
        );
        CREATE INDEX users_full_name ON users(full_name);
        """,
    ),
    Migration(
        3,
        """
        CREATE INDEX appeals_created ON appeals(created_at);
        CREATE INDEX appeals_closed ON appeals(closed_at);
        CREATE INDEX notices_created ON notices(created_at);
        CREATE INDEX appeal_messages_kind ON appeal_messages(kind, created_at);
        CREATE INDEX audit_events_action ON audit_events(action, created_at);
        CREATE TABLE digests (
            week        TEXT NOT NULL,
            audience    TEXT NOT NULL,
            text        TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            PRIMARY KEY (week, audience)
        );
        CREATE TABLE digest_deliveries (
            week      TEXT NOT NULL,
            audience  TEXT NOT NULL,
            chat_id   INTEGER NOT NULL,
            sent_at   TEXT NOT NULL,
            PRIMARY KEY (week, audience, chat_id)
        );
        """,
    ),
    Migration(
        4,
        """
        CREATE TABLE processed_requests (
            request_key  TEXT NOT NULL,
            actor_id     INTEGER NOT NULL,
            action       TEXT NOT NULL,
            ref          INTEGER,
            created_at   TEXT NOT NULL,
            PRIMARY KEY (request_key, actor_id)
        );
        INSERT INTO processed_requests
            SELECT 'tg:' || update_id, actor_id, action, ref, created_at FROM processed_updates;
        DROP TABLE processed_updates;
        ALTER TABLE tasks ADD COLUMN owner_id INTEGER REFERENCES users(tg_id);
        UPDATE tasks SET owner_id = (SELECT MIN(u.tg_id) FROM users u
            WHERE u.full_name = tasks.owner_name AND u.role IN ('official', 'head'))
            WHERE (SELECT COUNT(*) FROM users u
                   WHERE u.full_name = tasks.owner_name AND u.role IN ('official', 'head')) = 1;
        CREATE INDEX tasks_owner_id ON tasks(owner_id);
        CREATE INDEX tasks_department_unmapped ON tasks(department_name) WHERE owner_id IS NULL;
        """,
    ),
    Migration(
        5,
        """
        CREATE TABLE conversations (
            user_id     INTEGER PRIMARY KEY,
            chat_id     INTEGER NOT NULL,
            flow        TEXT NOT NULL,
            step        TEXT NOT NULL,
            data        TEXT NOT NULL,
            started_at  TEXT NOT NULL,
            expires_at  TEXT NOT NULL
        );
        CREATE INDEX conversations_expiry ON conversations(expires_at);
        CREATE TABLE outbox (
            id          INTEGER PRIMARY KEY,
            chat_id     INTEGER NOT NULL,
            kind        TEXT NOT NULL,
            subject     TEXT,
            subject_id  INTEGER,
            detail      TEXT NOT NULL,
            priority    INTEGER NOT NULL,
            created_at  TEXT NOT NULL,
            due_at      TEXT NOT NULL,
            attempts    INTEGER NOT NULL DEFAULT 0,
            status      TEXT NOT NULL DEFAULT 'pending',
            lease_until TEXT,
            sent_at     TEXT,
            error       TEXT
        );
        CREATE INDEX outbox_due ON outbox(status, priority, due_at);
        CREATE INDEX outbox_chat ON outbox(chat_id, status);
        CREATE TABLE operator_notes (
            key         TEXT PRIMARY KEY,
            created_at  TEXT NOT NULL
        );
        """,
    ),
    Migration(
        6,
        """
        CREATE INDEX outbox_subject ON outbox(subject, subject_id, kind);
        """,
    ),
    Migration(
        7,
        # The digest's counts per local day of receipt, kept by storage/reports.py: the
        # triggers note every appeal written, so only the days touched since are counted
        # again (DIALECT SQL: SQLite's trigger bodies; PostgreSQL's in _PG_TALLY_TRIGGERS).
        f"""
        CREATE TABLE appeal_tallies (
            created_day     TEXT NOT NULL,
            department_id   INTEGER NOT NULL,
            category        TEXT NOT NULL,
            withdrawn       INTEGER NOT NULL,
            closed_day      TEXT,
            unrated_from    TEXT,
            received        INTEGER NOT NULL,
            claimed_on_time INTEGER NOT NULL,
            resolved        INTEGER NOT NULL,
            closed_on_time  INTEGER NOT NULL,
            rated           INTEGER NOT NULL,
            satisfied       INTEGER NOT NULL
        );
        CREATE INDEX appeal_tallies_created ON appeal_tallies(created_day);
        CREATE INDEX appeal_tallies_closed ON appeal_tallies(closed_day)
            WHERE closed_day IS NOT NULL;
        CREATE TABLE appeal_tally_basis (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            utc_offset  TEXT NOT NULL
        );
        CREATE TABLE appeal_changes (
            appeal_id   INTEGER PRIMARY KEY,
            created_at  TEXT NOT NULL
        );
{_TALLY_TRIGGERS}        """,
        postgresql=_PG_TALLY_TRIGGERS,
    ),
    Migration(
        8,
        # Several contacts per enterprise: the first (who registered it) invites colleagues.
        """
        ALTER TABLE enterprises ADD COLUMN primary_contact_id INTEGER;
        UPDATE enterprises SET primary_contact_id = (
            SELECT u.tg_id FROM users u WHERE u.enterprise_id = enterprises.id
            ORDER BY u.created_at, u.tg_id LIMIT 1);
        ALTER TABLE users ADD COLUMN phone TEXT;
        ALTER TABLE users ADD COLUMN removed_at TEXT;
        CREATE TABLE contact_invites (
            code           TEXT PRIMARY KEY,
            enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id),
            created_by     INTEGER NOT NULL,
            created_at     TEXT NOT NULL,
            expires_at     TEXT NOT NULL,
            used_by        INTEGER,
            used_at        TEXT
        );
        """,
    ),
    Migration(
        9,
        # A group upgraded to a supergroup has a new id: the move is followed (the org
        # config's chat_id maps to the new one) until the operator writes another id there.
        """
        CREATE TABLE chat_moves (
            old_chat_id  INTEGER PRIMARY KEY,
            new_chat_id  INTEGER NOT NULL,
            moved_at     TEXT NOT NULL
        );
        """,
    ),
    Migration(
        10,
        # Messages in several parts: each part is recorded when Telegram accepted it, so a
        # crash repeats at most the part in flight and the rest goes on where it stopped.
        """
        ALTER TABLE outbox ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE outbox ADD COLUMN list_id INTEGER;
        CREATE INDEX outbox_list ON outbox(list_id) WHERE list_id IS NOT NULL;
        """,
    ),
    Migration(
        11,
        # What was about something no longer there was once recorded as a failed delivery:
        # it is gone (never owed again after /start, never listed as unreachable).
        """
        UPDATE outbox SET status = 'gone', error = NULL
            WHERE status = 'failed' AND error = 'gone';
        """,
    ),
    Migration(
        12,
        # A task's or an enterprise's events are read by their subject (every task card,
        # action and the ledger's export); the events since a moment by their time (the
        # digest of a past week, the ledger's states as they were then); a task's reports
        # by their task, and a task's files (查看附件) by their task, each report's by their
        # report.
        """
        CREATE INDEX audit_events_subject ON audit_events(subject, id);
        CREATE INDEX audit_events_created ON audit_events(created_at, appeal_id);
        CREATE INDEX task_reports_task ON task_reports(task_id, id);
        CREATE INDEX task_attachments_report ON task_attachments(report_id);
        CREATE INDEX task_attachments_task ON task_attachments(task_id, id);
        """,
    ),
    Migration(
        13,
        # The digest tallies' basis names the zone its local days were counted in (the
        # offset stays: SQLite counts with one); its row always exists, so a refresh locks
        # it first (an UPDATE) and two refreshes never count at once.
        """
        ALTER TABLE appeal_tally_basis ADD COLUMN zone TEXT NOT NULL DEFAULT '';
        INSERT INTO appeal_tally_basis (id, zone, utc_offset) VALUES (1, '', '')
            ON CONFLICT (id) DO NOTHING;
        """,
    ),
    Migration(
        14,
        # The digest counts the open appeals overdue as of a day (and of those, the ones
        # filed before the week's end) from the index alone: (state, due_date) with the
        # filing moment after them, in place of the index on (state, due_date) it extends
        # (the sweep and the longest overdue read its first two columns as before).
        """
        CREATE INDEX appeals_state_due_created ON appeals(state, due_date, created_at);
        DROP INDEX appeals_state_due;
        """,
    ),
    Migration(
        15,
        # A list of notices sent as one (storage/conversations.py, OutboxRepo.form_list) takes
        # a new number. SQLite: one more than the greatest, in the same statement (its one
        # writer forms one list at a time): nothing to add. PostgreSQL: a sequence, past the
        # numbers given so far (DIALECT SQL: _PG_LIST_IDS).
        f"""
{_LIST_IDS_NOTE}        """,
        postgresql=_PG_LIST_IDS,
    ),
    Migration(
        16,
        # An event's subject is compared by code point on both (a task's history is a range
        # of subjects): SQLite does so already; PostgreSQL's index on it is remade with
        # that collation (DIALECT SQL: _PG_SUBJECT_BYTES).
        f"""
{_SUBJECT_BYTES_NOTE}        """,
        postgresql=_PG_SUBJECT_BYTES,
    ),
    Migration(
        17,
        # Several instances on one database (docs/design.md, "Several instances"). Updates
        # that came to a webhook, claimed by Telegram's id before they are handled (a
        # re-send, or the same update posted to another instance, finds it there), kept a
        # day; `turn_key` (the person, else the chat) keeps a person's updates in order
        # across instances. Leases: who holds a role (the leader's jobs, the poller) or a
        # person's turn, until when.
        """
        CREATE TABLE updates_inbox (
            update_id    INTEGER PRIMARY KEY,
            turn_key     INTEGER NOT NULL,
            payload      TEXT NOT NULL,
            received_at  TEXT NOT NULL,
            handled_at   TEXT
        );
        CREATE INDEX updates_inbox_waiting ON updates_inbox(turn_key, update_id)
            WHERE handled_at IS NULL;
        CREATE INDEX updates_inbox_received ON updates_inbox(received_at);
        CREATE TABLE leases (
            name      TEXT PRIMARY KEY,
            holder    TEXT NOT NULL,
            until_at  TEXT NOT NULL
        );
        -- Telegram's limits hold for the bot, not for each process: a token bucket all the
        -- instances send through (seconds since the epoch; `answers_until`: answers to
        -- people waited for a token until then, and notices give way meanwhile).
        CREATE TABLE send_budgets (
            name           TEXT PRIMARY KEY,
            tokens         DOUBLE PRECISION NOT NULL,
            refilled       DOUBLE PRECISION NOT NULL,
            answers_until  DOUBLE PRECISION NOT NULL DEFAULT 0
        );
        """,
    ),
    Migration(
        18,
        # Telegram's per-chat limits (1 a second to a person, 20 a minute to a group) hold
        # for the bot, not for each process: a chat's places, shared by every instance. A
        # message holds one from before it goes (`holder`, until `held_until` should its
        # instance die) until Telegram answered; the place is free again from `free_from`, a
        # period after that answer (seconds since the epoch).
        """
        CREATE TABLE chat_places (
            chat        TEXT NOT NULL,
            place       INTEGER NOT NULL,
            holder      TEXT NOT NULL DEFAULT '',
            held_until  DOUBLE PRECISION NOT NULL DEFAULT 0,
            free_from   DOUBLE PRECISION NOT NULL DEFAULT 0,
            PRIMARY KEY (chat, place)
        );
        """,
    ),
    Migration(
        19,
        # The enterprise directory (企业名录): every enterprise the bureau knows, registered
        # in the bot or not yet (then matched by its USCC when it registers: `enterprise_id`),
        # with the attributes broadcasts and 月报 are addressed by. `scale`: 'above' (规上) /
        # 'below' (规下) / '' unknown; `baobao_name` as the roster wrote it, `baobao_user_id`
        # the official it named (given to the enterprise when it registers).
        """
        CREATE TABLE directory (
            id              INTEGER PRIMARY KEY,
            uscc            TEXT NOT NULL UNIQUE,
            name            TEXT NOT NULL,
            industry        TEXT NOT NULL DEFAULT '',
            district        TEXT NOT NULL DEFAULT '',
            scale           TEXT NOT NULL DEFAULT '' CHECK (scale IN ('', 'above', 'below')),
            baobao_name     TEXT NOT NULL DEFAULT '',
            baobao_user_id  INTEGER,
            enterprise_id   INTEGER UNIQUE REFERENCES enterprises(id),
            created_at      TEXT NOT NULL,
            updated_at      TEXT NOT NULL
        );
        CREATE TABLE directory_tags (
            entry_id  INTEGER NOT NULL REFERENCES directory(id),
            tag       TEXT NOT NULL,
            PRIMARY KEY (entry_id, tag)
        );
        CREATE INDEX directory_tags_by_tag ON directory_tags(tag, entry_id);
        INSERT INTO directory (uscc, name, enterprise_id, created_at, updated_at)
            SELECT uscc, name, id, created_at, created_at FROM enterprises ORDER BY id;
        """,
    ),
    Migration(
        20,
        # 政策宣贯 broadcasts. A broadcast's `audience` is its segment as JSON text; its
        # recipients are chosen when it goes (a scheduled one waits in `scheduled`), one row
        # each; its outbox message is the one of kind 'broadcast' about it to that chat (none
        # when the enterprise muted the topic: `muted`). `read_at` (已阅), `asked_at` (咨询)
        # and the appeal a 咨询 became. Topic mutes are the enterprise's, by topic code.
        """
        CREATE TABLE broadcasts (
            id            INTEGER PRIMARY KEY,
            title         TEXT NOT NULL,
            body          TEXT NOT NULL,
            topic         TEXT NOT NULL,
            audience      TEXT NOT NULL,
            state         TEXT NOT NULL
                CHECK (state IN ('scheduled', 'sending', 'sent', 'cancelled')),
            created_by    INTEGER NOT NULL,
            created_at    TEXT NOT NULL,
            send_at       TEXT NOT NULL,
            recipients    INTEGER NOT NULL DEFAULT 0,
            cancelled_at  TEXT,
            cancelled_by  INTEGER,
            finished_at   TEXT
        );
        CREATE INDEX broadcasts_waiting ON broadcasts(state, send_at);
        CREATE TABLE broadcast_files (
            broadcast_id  INTEGER NOT NULL REFERENCES broadcasts(id),
            position      INTEGER NOT NULL,
            kind          TEXT NOT NULL,
            file_id       TEXT NOT NULL,
            file_unique_id TEXT NOT NULL,
            file_name     TEXT,
            PRIMARY KEY (broadcast_id, position)
        );
        CREATE TABLE broadcast_recipients (
            broadcast_id   INTEGER NOT NULL REFERENCES broadcasts(id),
            chat_id        INTEGER NOT NULL,
            enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id),
            muted          INTEGER NOT NULL DEFAULT 0,
            read_at        TEXT,
            asked_at       TEXT,
            appeal_id      INTEGER REFERENCES appeals(id),
            PRIMARY KEY (broadcast_id, chat_id)
        );
        -- a recipient's message, found by its chat (the reach report joins on it)
        CREATE INDEX outbox_about_chat ON outbox(subject, subject_id, kind, chat_id);
        CREATE TABLE topic_mutes (
            enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id),
            topic          TEXT NOT NULL,
            muted_by       INTEGER NOT NULL,
            muted_at       TEXT NOT NULL,
            PRIMARY KEY (enterprise_id, topic)
        );
        """,
    ),
    Migration(
        21,
        # 月报 campaigns. A campaign keeps its form and schedule (`definition`, JSON text),
        # its segment (`audience`, as a broadcast's) and the first month reported; `swept_on`
        # the last day its ladder ran. The enterprises asked for a period are fixed the day
        # they are asked (`campaign_targets`). Each submission is a new version of the
        # enterprise's report for the period (answers in `data`); its notices (填报通知,
        # 提示, 督办, 提级) are numbered like the appeals' (`notice_counters`), one a day at
        # most (`day`; '' for those once a period).
        """
        CREATE TABLE campaigns (
            id            INTEGER PRIMARY KEY,
            code          TEXT NOT NULL UNIQUE,
            title         TEXT NOT NULL,
            definition    TEXT NOT NULL,
            audience      TEXT NOT NULL,
            first_period  TEXT NOT NULL,
            state         TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'stopped')),
            swept_on      TEXT,
            created_by    INTEGER NOT NULL,
            created_at    TEXT NOT NULL
        );
        CREATE TABLE campaign_targets (
            campaign_id    INTEGER NOT NULL REFERENCES campaigns(id),
            period         TEXT NOT NULL,
            enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id),
            asked_at       TEXT NOT NULL,
            PRIMARY KEY (campaign_id, period, enterprise_id)
        );
        CREATE TABLE monthly_reports (
            id             INTEGER PRIMARY KEY,
            campaign_id    INTEGER NOT NULL REFERENCES campaigns(id),
            period         TEXT NOT NULL,
            enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id),
            version        INTEGER NOT NULL,
            data           TEXT NOT NULL,
            submitted_by   INTEGER NOT NULL,
            submitted_at   TEXT NOT NULL,
            late           INTEGER NOT NULL DEFAULT 0,
            UNIQUE (campaign_id, period, enterprise_id, version)
        );
        CREATE TABLE monthly_notices (
            id             INTEGER PRIMARY KEY,
            campaign_id    INTEGER NOT NULL REFERENCES campaigns(id),
            period         TEXT NOT NULL,
            enterprise_id  INTEGER NOT NULL REFERENCES enterprises(id),
            kind           TEXT NOT NULL,
            day            TEXT NOT NULL,
            family         TEXT,
            serial_year    INTEGER,
            serial_no      INTEGER,
            overdue_days   INTEGER NOT NULL DEFAULT 0,
            created_at     TEXT NOT NULL,
            UNIQUE (campaign_id, period, enterprise_id, kind, day)
        );
        """,
    ),
    # Next steps here, numbered on: a shipped step never changes (SQLite databases keep
    # what they applied); SQL both engines read alike, `postgresql=` passages only where not
    # (the SQLite passage a constant above, used in the step and in its pair).
]

# Column types on PostgreSQL, by the column's name (SQLite keeps INTEGER and TEXT). An id
# is `bigint` (Telegram's ids pass 2**31); a count or a small number is `integer`, so that
# SUM gives an integer back, not a numeric.
_INTEGERS = frozenset(
    {
        "attempts", "claimed_on_time", "closed_on_time", "is_head", "last_no", "last_seq",
        "priority", "progress", "rated", "received", "reopen_count", "resolved", "satisfied",
        "seq", "serial_no", "serial_year", "version", "year", "position", "recipients", "muted",
        "late", "overdue_days",
    }
)  # fmt: skip
_BOOLEANS = frozenset({"withdrawn"})  # filled from a comparison (`a.state = 'withdrawn'`)
# Stored as `YYYY-MM-DD` on SQLite (storage.records.day).
_DAYS = frozenset(
    {
        "claim_due_date", "closed_day", "created_day", "deadline", "due_date",
        "new_due_date", "old_due_date", "rating_due_date", "unrated_from",
    }
)  # fmt: skip
_JSON = frozenset({"data", "detail"})  # storage.records.detail_json, json.dumps


def postgresql_type(column: str, sqlite_type: str, rest: str = "") -> str:
    """The PostgreSQL type of a column SQLite declares `column sqlite_type rest`."""
    if sqlite_type == "INTEGER":
        if column == "id" and rest.startswith("PRIMARY KEY") and "CHECK" not in rest:
            return "bigint GENERATED BY DEFAULT AS IDENTITY"  # SQLite's rowid alias
        if column in _BOOLEANS:
            return "boolean"
        return "integer" if column in _INTEGERS else "bigint"
    if column.endswith("_at") or column == "lease_until":  # storage.records.stamp
        return "timestamptz"
    if column in _DAYS:
        return "date"
    return "jsonb" if column in _JSON else "text"


# A column's declaration: at the start of a line, after `(` or `,`, or after ADD COLUMN.
_COLUMN = re.compile(
    r"(^\s*|\(\s*|,\s*|ADD COLUMN )(\w+)(\s+)(INTEGER|TEXT)\b([^,\n]*)", re.MULTILINE
)


def postgresql_sql(step: Migration) -> str:
    """A step's SQL for PostgreSQL: its dialect passages replaced, then its types."""
    sql = step.sql
    for passage, replacement in step.postgresql:
        if sql.count(passage) != 1:
            raise ValueError(f"migration {step.version}: passage not found once: {passage!r}")
        sql = sql.replace(passage, replacement)
    return _COLUMN.sub(
        lambda m: m[1] + m[2] + m[3] + postgresql_type(m[2], m[4], m[5].strip()) + m[5], sql
    )


def migrations_for(dialect_name: str) -> list[tuple[int, str]]:
    """(version, SQL) of every step, in order, for the backend `dialect_name` ("sqlite" or
    "postgresql"). Each is meant to run in one transaction with its schema_migrations row."""
    if dialect_name == "sqlite":
        return [(step.version, step.sql) for step in STEPS]
    if dialect_name == "postgresql":
        return [(step.version, postgresql_sql(step)) for step in STEPS]
    raise ValueError(f"no migrations for the database dialect {dialect_name!r}")


# The table that records the steps applied (made before the first step runs).
SCHEMA_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL)",
}

MIGRATIONS: list[tuple[int, str]] = migrations_for("sqlite")
