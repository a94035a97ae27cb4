"""SQL of 月报 campaigns: campaigns, the enterprises asked each period, submissions (one row
per version) and the ladder's numbered notices."""

from __future__ import annotations

import json
from datetime import date, datetime

from bot.rules.broadcasts import Audience
from bot.rules.campaigns import Campaign, MonthlyNoticeRecord, Submission, Target
from bot.rules.monthly import MonthlyNotice, Period, definition_from_data
from storage import records
from storage.base import HOLD_CAMPAIGN, Row, Store
from storage.broadcasts import audience_conditions


def _campaign(row: Row) -> Campaign:
    return Campaign(
        row["id"],
        row["code"],
        row["title"],
        definition_from_data(json.loads(row["definition"])),
        Audience.from_data(json.loads(row["audience"])),
        Period.parse(row["first_period"]),
        row["state"] == "active",
        date.fromisoformat(row["swept_on"]) if row["swept_on"] else None,
        row["created_by"],
        records.moment(row["created_at"]),
    )


def _submission(row: Row) -> Submission:
    data = row["data"]
    return Submission(
        row["campaign_id"],
        Period.parse(row["period"]),
        row["enterprise_id"],
        row["version"],
        json.loads(data) if isinstance(data, str) else dict(data),
        row["submitted_by"],
        records.moment(row["submitted_at"]),
        bool(row["late"]),
    )


def _notice(row: Row) -> MonthlyNoticeRecord:
    return MonthlyNoticeRecord(
        row["id"],
        row["campaign_id"],
        Period.parse(row["period"]),
        row["enterprise_id"],
        MonthlyNotice(row["kind"]),
        row["day"],
        row["family"],
        row["serial_year"],
        row["serial_no"],
        row["overdue_days"],
        records.moment(row["created_at"]),
    )


# The latest version of each enterprise's report for a period.
_LATEST = (
    "SELECT r.* FROM monthly_reports r WHERE r.version = (SELECT MAX(v.version)"
    " FROM monthly_reports v WHERE v.campaign_id = r.campaign_id AND v.period = r.period"
    " AND v.enterprise_id = r.enterprise_id)"
)


class MonthlyRepo(Store):
    async def hold(self, campaign_id: int) -> None:
        """Until COMMIT: one sweep or submission of a campaign at a time."""
        await self._hold(HOLD_CAMPAIGN, campaign_id)

    async def add_campaign(
        self,
        code: str,
        title: str,
        definition: dict[str, object],
        audience: Audience,
        first_period: Period,
        created_by: int,
        now: datetime,
    ) -> int:
        return await self._insert(
            "INSERT INTO campaigns (code, title, definition, audience, first_period,"
            " created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                title,
                json.dumps(definition, ensure_ascii=False),
                json.dumps(audience.as_data(), ensure_ascii=False),
                first_period.label,
                created_by,
                records.stamp(now),
            ),
        )

    async def campaign(self, campaign_id: int) -> Campaign | None:
        row = await self._one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
        return _campaign(row) if row else None

    async def by_code(self, code: str) -> Campaign | None:
        row = await self._one("SELECT * FROM campaigns WHERE code = ?", (code,))
        return _campaign(row) if row else None

    async def campaigns(self) -> list[Campaign]:
        return [_campaign(r) for r in await self._all("SELECT * FROM campaigns ORDER BY id")]

    async def set_swept(self, campaign_id: int, day: date) -> None:
        await self.conn.execute(
            "UPDATE campaigns SET swept_on = ? WHERE id = ?", (day.isoformat(), campaign_id)
        )

    async def set_active(self, campaign_id: int, active: bool) -> bool:
        changed = await self._changed(
            "UPDATE campaigns SET state = ? WHERE id = ? AND state <> ?",
            ("active" if active else "stopped", campaign_id, "active" if active else "stopped"),
        )
        return changed == 1

    async def choose_targets(
        self, campaign_id: int, period: Period, audience: Audience, now: datetime
    ) -> int:
        """The registered enterprises the audience names are asked for `period` (once: the
        segment as it is the day they are asked)."""
        total = 0
        for condition, params in audience_conditions(audience):
            total += await self._changed(
                "INSERT INTO campaign_targets (campaign_id, period, enterprise_id, asked_at)"  # noqa: S608 - constant SQL
                " SELECT ?, ?, e.id, ? FROM directory d JOIN enterprises e"
                f" ON e.id = d.enterprise_id WHERE {condition}"
                " ON CONFLICT DO NOTHING",
                (campaign_id, period.label, records.stamp(now), *params),
            )
        return total

    async def asked(self, campaign_id: int, period: Period) -> bool:
        row = await self._one(
            "SELECT 1 AS x FROM campaign_targets WHERE campaign_id = ? AND period = ? LIMIT 1",
            (campaign_id, period.label),
        )
        return row is not None

    async def is_target(self, campaign_id: int, period: Period, enterprise_id: int) -> bool:
        row = await self._one(
            "SELECT 1 AS x FROM campaign_targets WHERE campaign_id = ? AND period = ?"
            " AND enterprise_id = ?",
            (campaign_id, period.label, enterprise_id),
        )
        return row is not None

    async def periods(self, campaign_id: int) -> list[Period]:
        rows = await self._all(
            "SELECT DISTINCT period FROM campaign_targets WHERE campaign_id = ? ORDER BY period",
            (campaign_id,),
        )
        return [Period.parse(r["period"]) for r in rows]

    async def targets(self, campaign_id: int, period: Period) -> list[Target]:
        """The enterprises asked for the period, by name, with their latest version."""
        rows = await self._all(
            "SELECT t.enterprise_id, COALESCE(d.name, e.name) AS name, e.uscc,"
            " e.baobao_user_id FROM campaign_targets t JOIN enterprises e"
            " ON e.id = t.enterprise_id LEFT JOIN directory d ON d.enterprise_id = e.id"
            " WHERE t.campaign_id = ? AND t.period = ? ORDER BY name, e.uscc",
            (campaign_id, period.label),
        )
        latest = {
            s.enterprise_id: s
            for s in [
                _submission(r)
                for r in await self._all(
                    _LATEST + " AND r.campaign_id = ? AND r.period = ?",  # noqa: S608
                    (campaign_id, period.label),
                )
            ]
        }
        return [
            Target(
                r["enterprise_id"],
                r["name"],
                r["uscc"],
                r["baobao_user_id"],
                latest.get(r["enterprise_id"]),
            )
            for r in rows
        ]

    async def latest(
        self, campaign_id: int, period: Period, enterprise_id: int
    ) -> Submission | None:
        row = await self._one(
            _LATEST + " AND r.campaign_id = ? AND r.period = ? AND r.enterprise_id = ?",  # noqa: S608
            (campaign_id, period.label, enterprise_id),
        )
        return _submission(row) if row else None

    async def submit(
        self,
        campaign_id: int,
        period: Period,
        enterprise_id: int,
        data: dict[str, object],
        by: int,
        now: datetime,
        late: bool,
    ) -> int:
        """A new version of the report (1 the first time); returns its version."""
        row = await self._one(
            "SELECT COALESCE(MAX(version), 0) AS v FROM monthly_reports WHERE campaign_id = ?"
            " AND period = ? AND enterprise_id = ?",
            (campaign_id, period.label, enterprise_id),
        )
        version = int(row["v"] if row else 0) + 1
        await self.conn.execute(
            "INSERT INTO monthly_reports (campaign_id, period, enterprise_id, version, data,"
            " submitted_by, submitted_at, late) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                campaign_id,
                period.label,
                enterprise_id,
                version,
                json.dumps(data, ensure_ascii=False),
                by,
                records.stamp(now),
                int(late),
            ),
        )
        return version

    async def all_latest(self, campaign_id: int) -> list[Submission]:
        """Every enterprise's latest version of every period (history, charts)."""
        rows = await self._all(
            _LATEST + " AND r.campaign_id = ? ORDER BY r.period, r.enterprise_id",  # noqa: S608
            (campaign_id,),
        )
        return [_submission(r) for r in rows]

    # --- the ladder's notices ------------------------------------------------------------

    async def notices_sent(
        self, campaign_id: int, period: Period, enterprise_id: int
    ) -> set[MonthlyNotice]:
        rows = await self._all(
            "SELECT DISTINCT kind FROM monthly_notices WHERE campaign_id = ? AND period = ?"
            " AND enterprise_id = ?",
            (campaign_id, period.label, enterprise_id),
        )
        return {MonthlyNotice(r["kind"]) for r in rows}

    async def add_notice(
        self,
        campaign_id: int,
        period: Period,
        enterprise_id: int,
        kind: MonthlyNotice,
        day: str,
        family: str | None,
        year: int,
        overdue_days: int,
        now: datetime,
    ) -> MonthlyNoticeRecord | None:
        """Record a notice (None: recorded before) and give it the next 文号 of its family
        and year, gap-free (the counter's row is locked until COMMIT)."""
        made = await self._all(
            "INSERT INTO monthly_notices (campaign_id, period, enterprise_id, kind, day,"
            " overdue_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (
                campaign_id,
                period.label,
                enterprise_id,
                str(kind),
                day,
                overdue_days,
                records.stamp(now),
            ),
        )
        if not made:
            return None
        notice_id = made[0]["id"]
        if family is not None:
            await self.conn.execute(
                "INSERT INTO notice_counters (family, year, last_no) VALUES (?, ?, 0)"
                " ON CONFLICT (family, year) DO NOTHING",
                (family, year),
            )
            counted = await self._all(
                "UPDATE notice_counters SET last_no = last_no + 1 WHERE family = ? AND year = ?"
                " RETURNING last_no",
                (family, year),
            )
            await self.conn.execute(
                "UPDATE monthly_notices SET family = ?, serial_year = ?, serial_no = ?"
                " WHERE id = ?",
                (family, year, counted[0]["last_no"], notice_id),
            )
        return await self.notice(notice_id)

    async def notice(self, notice_id: int) -> MonthlyNoticeRecord | None:
        row = await self._one("SELECT * FROM monthly_notices WHERE id = ?", (notice_id,))
        return _notice(row) if row else None

    async def enterprise_record(self, enterprise_id: int) -> list[tuple[str, int, int, int]]:
        """Each campaign that asked this enterprise: (title, months asked, months reported,
        of those late) — its 月报 history at a glance."""
        rows = await self._all(
            "SELECT c.title, COUNT(*) AS asked,"
            " COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM monthly_reports r"
            "  WHERE r.campaign_id = t.campaign_id AND r.period = t.period"
            "  AND r.enterprise_id = t.enterprise_id)) AS reported,"
            " COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM monthly_reports r"
            "  WHERE r.campaign_id = t.campaign_id AND r.period = t.period"
            "  AND r.enterprise_id = t.enterprise_id AND r.version = 1 AND r.late = 1)) AS late"
            " FROM campaign_targets t JOIN campaigns c ON c.id = t.campaign_id"
            " WHERE t.enterprise_id = ? GROUP BY c.id, c.title ORDER BY c.id",
            (enterprise_id,),
        )
        return [(r["title"], int(r["asked"]), int(r["reported"]), int(r["late"])) for r in rows]
