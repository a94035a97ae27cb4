"""`appealdesk demo`: the whole appeal lifecycle played on the offline sandbox."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.broadcast_sheet import write_reach
from bot.clock import ManualClock
from bot.config import Settings
from bot.digest_files import write_digest_files
from bot.monthly_chart import render_series
from bot.monthly_sheet import write_period
from bot.rules.digest import Week
from bot.rules.monthly import Period, ReportSchedule, ask_day, due_day
from bot.rules.org import OrgConfig
from bot.sandbox.chat import Sandbox
from bot.usecases import broadcasts, monthly
from handlers.broadcast_text import audience_text
from handlers.digest import send_weekly_digests
from handlers.jobs import deliver_notices, run_sweep
from storage.factory import sqlite_url

LEADER_ID = 10001
# The people of the story, by Telegram id: the leader, the 融资 head and official, a 中小企业科
# official, the enterprise's contact. Known to the transcript before the bot's first word.
CAST = {LEADER_ID: "王局长", 20001: "张科长", 20002: "李明", 20003: "赵敏", 30001: "陈经理"}
# The contacts of three of the four data centres under construction (the fourth registers
# last, and is recognised from the roster), for the directory and 政策宣贯 chapter.
CENTRES = {31001: "刘工", 31002: "孙经理", 31003: "周主任", 31004: "吴总"}
EXAMPLE_ROSTER = Path(__file__).parent.parent / "resources" / "enterprise_roster.csv"
EXAMPLE_FORM = Path(__file__).parent.parent / "resources" / "monthly_datacenter.toml"
YEAR_START = datetime(2025, 1, 6, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
EXAMPLE_TASKS = Path(__file__).parent.parent / "resources" / "rectification_tasks.csv"
# Working days of the ladder chapter and what happens on each (after the sweep).
DEMO_DAYS = [
    ("2026-02-24", ""),  # first working day after the Spring Festival: unclaimed → head
    ("2026-02-25", "claim"),
    ("2026-03-04", "extend"),  # one working day before due: 提示; task 7 days ahead
    ("2026-03-05", ""),  # due today
    ("2026-03-06", ""),  # first working day overdue: 督办
    ("2026-03-09", ""),  # 督办 again
    ("2026-03-10", "report"),  # 3 working days overdue: 提级 to leaders
]
DEMO_START = datetime(2026, 2, 12, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


async def _invite(leader: object, department: str, head: bool) -> str:
    await leader.send(f"/invite {department}{' head' if head else ''}")
    return leader.last.split("?start=")[1].split()[0]


async def play(
    settings: Settings, org: OrgConfig, echo: Callable[[str], None], out: Path | None = None
) -> Sandbox:
    """Plays the story; returns the stopped sandbox (its transcript and database remain)."""
    clock = ManualClock(DEMO_START)
    settings = settings.model_copy(update={"admin_ids": [LEADER_ID]})
    sandbox = await Sandbox.start(settings, org, clock, echo=echo, names={**CAST, **CENTRES})
    try:
        leader, head, official, other, company = (sandbox.person(i, n) for i, n in CAST.items())

        clock.set(YEAR_START)
        echo("\n═══ 1. 局领导邀请承办人加入（单次有效的邀请链接）═══")
        await head.send(f"/start {await _invite(leader, 'jrj', head=True)}")
        await official.send(f"/start {await _invite(leader, 'jrj', head=False)}")
        await other.send(f"/start {await _invite(leader, 'zxqy', head=False)}")

        contacts = await _directory(sandbox, leader, echo)
        await _year_of_monthly_reports(sandbox, clock, leader, contacts, echo, out)

        clock.set(DEMO_START)
        echo("\n═══ 5. 企业登记（统一社会信用代码按 GB 32100 校验）═══")
        await company.send("/start")
        await company.send("鄂州市泛亚食品有限公司")
        await company.send("91420700MA4958XXXX")
        await company.send("91350100M000100Y43")
        await company.send("陈经理")
        await company.send("13907110000")
        await company.press("确认登记")

        echo("\n═══ 6. 提交融资诉求（春节假期不计入办理时限）═══")
        await company.send("/new")
        await company.press("融资")
        await company.send(
            "我司扩建冷链仓库需流动资金约800万元，申请对接政府性融资担保和银行信贷支持。"
        )
        await company.send_document("扩建项目可研报告.pdf")
        await company.press("提交")

        echo("\n═══ 7. 承办人签收、备注、回复、办结 ═══")
        await official.press("签收")
        await official.press("备注")
        await official.send("已与市融资担保公司电话沟通，需企业补充近两年财务报表。")
        await official.press("回复", containing="诉求 SQ-")
        await official.send(
            "已为贵司对接市融资担保公司及两家合作银行，请于下周二携财务报表前往洽谈。"
        )
        await company.press("查看", containing="新回复")
        await company.press("补充")
        await company.send("财务报表已准备好，另附土地证复印件。")
        await company.send_photo(caption="土地证复印件")
        await company.send("/done")
        await official.press("办结", containing="诉求 SQ-")
        await official.send("已完成银企对接，担保公司同意提供800万元担保，银行授信审批中。")

        echo("\n═══ 8. 企业评价 ═══")
        await company.press("满意")
        await company.send("对接及时，感谢！")

        echo("\n═══ 9. 转办：误选类别的诉求转给市人社局 ═══")
        await company.send("/new")
        await company.press("综合服务")
        await company.send("春节后急需招聘冷链物流操作工30名，希望协助对接人社部门招聘会。")
        await company.press("提交")
        await other.press("查看")
        await other.press("转办")
        await other.press("市人社局")
        await other.send("属于用工(引才)类诉求，由市人社局办理。")

        echo("\n═══ 10. 不满意重办，及企业撤回 ═══")
        await company.send("/new")
        await company.press("融资")
        await company.send("申请稳岗贷款贴息政策咨询，请告知申报条件与材料。")
        await company.press("提交")
        await official.press("签收")
        await official.press("办结", containing="诉求 SQ-")
        await official.send("已电话告知。")
        clock.advance(timedelta(days=1))
        echo("（一天后）")
        await company.press("不满意")
        await company.send("只电话告知，没有书面材料清单。")
        await company.send("/my")
        await company.press("查看 SQ-2026-000003")
        await company.press("撤回")
        await company.send("问题已通过其他渠道解决。")

        echo("\n═══ 11. 越权操作被拒绝 ═══")
        await other.send("/view SQ-2026-000001")
        await company.send("/inbox")

        echo("\n═══ 12. 整改任务台账：导入巡察反馈的 29 个问题 ═══")
        await leader.send("/tasks import")
        await leader.send_document("rectification_tasks.csv", content=EXAMPLE_TASKS.read_bytes())
        await leader.send("/tasks import")
        deadline = "2026-03-11"
        extra = (
            "序号,方面,问题,整改措施,责任领导,责任科室,责任人,整改时限,状态\n"
            "30,落实全面从严治党和作风建设要求,涉企诉求回复质量不高，部分回复内容雷同,"
            f"建立回复质量抽查机制，每月通报,王局长,市地方金融管理局,李明,{deadline},整改中\n"
        )
        await leader.send_document("新增整改任务.csv", content=extra.encode("utf-8"))

        echo("\n═══ 13. 时间推进：提示、督办、提级（春节假期不计）═══")
        await company.send("/new")
        await company.press("融资")
        await company.send("申请技术改造专项资金贴息，请告知2026年申报条件。")
        await company.press("提交")
        number = company.last.split("编号：")[1].split()[0]
        for day, action in DEMO_DAYS:
            clock.set(datetime.fromisoformat(day + "T09:00:00+08:00"))
            echo(f"\n—— {day} 09:00 每日督办扫描 ——")
            await run_sweep(sandbox.app)
            if action == "claim":
                await official.press("签收", containing=number)
            elif action == "extend":
                await official.press("延期", containing=number)
                await official.send("2026-03-13")
                await official.send("担保公司尽调尚未完成，需延期一周。")
                await head.press("不同意")
                await head.send("尽调可与办理并行，请按原期限办结。")
            elif action == "report":
                await official.send("/tasks")
                await official.press("第30项")
                await official.press("报告进展")
                await official.send("已制定《涉企诉求回复质量抽查办法》，本月抽查回复20件。")
                await official.send_photo()
                await official.send("/done")
                await official.send("/tasks")
                await official.press("第30项")
                await official.press("申请销号")
                await official.send("抽查机制已建立并运行，首期通报已印发。")
                await leader.press("第30项 查看")
                await leader.press("同意销号")
                await leader.send("/tasks")
        await head.send(f"/view {number}")

        clock.set(datetime.fromisoformat("2026-03-16T09:00:00+08:00"))  # a Monday
        week = Week.before(sandbox.env.today())
        echo(f"\n═══ 14. 周一督察通报（{week.year}年第{week.number}周）═══")
        env = sandbox.env
        await send_weekly_digests(sandbox.app.bot, env, week)
        if out is not None:
            chart, ledger, count = await write_digest_files(env, week, out)
            echo(f"\n图表：{chart}\n诉求台账（{count} 件）：{ledger}")

        await _broadcast(sandbox, clock, leader, echo, out)
    finally:
        await sandbox.stop()
    return sandbox


async def _directory(sandbox: Sandbox, leader: object, echo: Callable[[str], None]) -> list[object]:
    """The roster imported (a bad row refused first); the four data centres register and are
    recognised; a leader corrects a tag. Returns their contacts."""
    echo("\n═══ 2. 企业名录：导入（坏行逐行指出，整表不导入），企业登记时按信用代码识别 ═══")
    roster = EXAMPLE_ROSTER.read_bytes()
    bad = roster.replace(b"91420700MA49E5F6GB", b"91420700MA49E5F6G0")
    await leader.send("/enterprises import")
    await leader.send_document("企业名录.csv", content=bad)
    await leader.send("/enterprises import")
    await leader.send_document("企业名录.csv", content=roster)
    contacts = [sandbox.person(i, n) for i, n in CENTRES.items()]
    lines = roster.decode().splitlines()[1:5]
    for person, line in zip(contacts, lines, strict=True):
        name, code = (cell.strip('"') for cell in line.split(",")[:2])
        await person.send("/start")
        await person.send(name)
        await person.send(code)
        await person.send(person.name)
        await person.send(f"139071{person.id % 100000:05d}")
        await person.press("确认登记")
    await leader.send("/enterprises 悦科")
    await leader.press("修改标签")
    await leader.send("数据中心、在建项目、算力枢纽")
    return contacts


# What each data centre reports, month by month (a year of construction): 本月完成投资额
# grows as the works go on; the 形象进度 moves from 土建施工 to 已投运.
STAGES = ("土建施工", "土建施工", "土建施工", "机电安装", "机电安装", "机电安装",
          "机电安装", "设备调试", "设备调试", "设备调试", "已投运", "已投运")  # fmt: skip
# One data centre reports a month late; another never reports one month.
LATE, MISSING = (1, Period(2025, 9)), (2, Period(2025, 6))


def _answers(centre: int, month: int, total: Decimal) -> tuple[Decimal, list[str]]:
    invested = Decimal(800 + 150 * centre + 40 * month + (month % 3) * 25)
    total += invested
    racks = (month + 1) * (40 + 10 * centre)
    return total, [f"{invested}万元", f"{total}", STAGES[month], str(racks)]


async def _report(person: object, answers: list[str], issue: str | None) -> None:
    await person.press("填报")
    for answer in answers[:2]:
        await person.send(answer)
    await person.press(answers[2])
    await person.send(answers[3])
    if issue:
        await person.send(issue)
    else:
        await person.press("跳过")
    await person.press("跳过")
    await person.press("提交")


async def _year_of_monthly_reports(
    sandbox: Sandbox,
    clock: ManualClock,
    leader: object,
    contacts: list[object],
    echo: Callable[[str], None],
    out: Path | None,
) -> None:
    """The bureau's 大数据中心月报制度: the four data centres report their construction
    each month of 2025; one reports late (September, across the National Day holiday and
    its 调休 Saturday), one misses June. The first month is shown whole, then a line a month."""
    echo("\n═══ 3. 月报：局领导按表单定义建立《大数据中心建设月报》═══")
    await leader.send("/campaigns new")
    await leader.send_document("monthly_datacenter.toml", content=EXAMPLE_FORM.read_bytes())
    await leader.press("按标签")
    await leader.press("数据中心（4）")
    await leader.send("2025-01")

    echo("\n═══ 4. 月报：2025 年 12 个月的填报、提示、督办、提级 ═══")
    env = sandbox.env
    totals = [Decimal(0)] * len(contacts)
    period = Period(2025, 1)
    for month in range(12):
        shown = month == 0 or period == LATE[1]
        with nullcontext() if shown else sandbox.silenced():
            totals = await _month(sandbox, clock, contacts, period, month, totals)
        status = await monthly.status(env, None, 1, period)
        echo(
            f"—— {period.label}：已报 {len(status.reported)}/{len(status.targets)}"
            f"（逾期 {len(status.late)}），截止 {status.due.isoformat()}"
        )
        period = period.next()
    await leader.send("/campaigns")
    await leader.press("第1项 报送情况")
    await leader.press("◀ 上月")
    await leader.press("汇总表（XLSX）")
    await leader.press("趋势图：本月完成投资额")
    await leader.press("停止月报")  # the story's year is over: 2026 is not part of it
    if out is not None:
        status = await monthly.status(env, None, 1, Period(2025, 12))
        history = await monthly.history(env, None, 1)
        table = out / "大数据中心建设月报-2025-12.xlsx"
        write_period(status, history, table, env.zone)
        chart = out / "大数据中心建设月报-投资额.png"
        field = history.campaign.definition.form.fields[0]
        chart.write_bytes(
            render_series(
                history.campaign.title, field.label, field.unit, monthly.series(history, field.key)
            )
        )
        echo(f"\n月报汇总表：{table}\n月报趋势图：{chart}")


async def _month(
    sandbox: Sandbox,
    clock: ManualClock,
    contacts: list[object],
    period: Period,
    month: int,
    totals: list[Decimal],
) -> list[Decimal]:
    """One period: the sweep each working day from its ask day to three past due; the data
    centres report on the ask day, the late one on the last of those days."""
    env = sandbox.env
    days = _sweep_days(period, env)
    for day in days:
        clock.set(datetime.combine(day, time(9, 0), env.zone))
        await run_sweep(sandbox.app)
        if day == days[0]:
            for n, person in enumerate(contacts):
                if (n, period) in (LATE, MISSING):
                    continue
                totals[n], answers = _answers(n, month, totals[n])
                issue = "受雨季影响，机房土建进度略有滞后。" if n == 0 and month == 0 else None
                await _report(person, answers, issue)
        if (LATE[0], period) == LATE and day == days[-1]:
            totals[LATE[0]], answers = _answers(LATE[0], month, totals[LATE[0]])
            await _report(contacts[LATE[0]], answers, None)
    return totals


def _sweep_days(period: Period, env: object) -> list[date]:
    """The days a period's ladder acts on: its ask day to three working days past due."""
    schedule = ReportSchedule()
    first = ask_day(period, env.calendar)
    last = env.calendar.add_working_days(due_day(period, env.calendar, schedule), 3)
    days, day = [], first
    while day <= last:
        if env.calendar.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


async def _broadcast(
    sandbox: Sandbox,
    clock: ManualClock,
    leader: object,
    echo: Callable[[str], None],
    out: Path | None,
) -> None:
    """A 政策宣贯 to the 数据中心 tag with one contact unreachable, 已阅 and a 咨询 that
    becomes an appeal, and the reach report."""
    clock.set(datetime.fromisoformat("2026-03-17T10:00:00+08:00"))
    contacts = [sandbox.person(i, n) for i, n in CENTRES.items()]
    echo("\n═══ 15. 政策宣贯：按标签发送，已阅、咨询转诉求、送达报告 ═══")
    sandbox.api.fail_chat(contacts[2].id, 403, "Forbidden: bot was blocked by the user")
    await leader.send("/broadcast")
    await leader.send("关于申报2026年度数据中心建设专项补助的通知")
    await leader.press("产业政策")
    await leader.send(
        "各在建数据中心：市经信局现受理2026年度数据中心建设专项补助申报，请于3月31日前"
        "提交项目投资完成情况及机架建设进度证明材料。"
    )
    await leader.press("无附件")
    await leader.press("按标签")
    await leader.press("数据中心（4）")
    await leader.press("立即发送")
    await deliver_notices(sandbox.app.bot, sandbox.env)
    await contacts[0].press("已阅")
    await contacts[1].press("咨询")
    await contacts[1].send("我司二期机房尚在土建阶段，能否按已完成投资额先行申报？")
    await contacts[1].press("提交")
    await deliver_notices(sandbox.app.bot, sandbox.env)
    await leader.press("刷新进度")
    await leader.press("送达报告（XLSX）")
    if out is not None:
        found = await broadcasts.report(sandbox.env, None, 1)
        path = out / "宣贯送达报告.xlsx"
        await write_reach(
            found, path, sandbox.env.zone, audience_text(found.broadcast.audience, quote=str)
        )
        echo(f"\n送达报告：{path}")


async def run_demo(settings: Settings, org: OrgConfig, echo: Callable[[str], None]) -> Path:
    """Plays the story on a temporary SQLite file and prints it; returns the folder used."""
    folder = Path(tempfile.mkdtemp(prefix="appealdesk-demo-"))
    settings = settings.model_copy(update={"database_url": sqlite_url(folder / "demo.sqlite3")})
    echo(f"AppealDesk 离线演示 — 数据库：{settings.database_shown}（无需 token，无网络）")
    await play(settings, org, echo, folder)
    return folder
