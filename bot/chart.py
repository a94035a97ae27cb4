"""The digest chart (PNG): appeals by category and by department, on-time rate by department.

Chinese labels need a CJK font. One is looked up among the installed fonts; the
`mplfonts` dependency (installed with the project) carries Noto Sans CJK SC as the
fallback. A label with a character the font lacks is an error, never a silent box.
"""

from __future__ import annotations

import io
import warnings
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on a server

from matplotlib import font_manager  # noqa: E402 - after choosing the backend
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.digest_text import week_name  # noqa: E402
from bot.rules.digest import LeaderDigest, PeriodFigures  # noqa: E402
from bot.texts import t  # noqa: E402

KNOWN_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
PROBE = "用工引才融资综合服务法务政策宣贯营商环境市经信局"


class ChartFontMissing(RuntimeError):
    """No font with Chinese glyphs could be found."""


def _covers(path: str, text: str) -> bool:
    try:
        font = FT2Font(path)
    except (OSError, RuntimeError):
        return False
    charmap = font.get_charmap()
    return all(ord(ch) in charmap for ch in set(text) if not ch.isspace())


def find_cjk_font() -> Path:
    """A font file with the Chinese glyphs the charts need."""
    for family in KNOWN_CJK_FAMILIES:
        try:
            path = font_manager.findfont(family, fallback_to_default=False)
        except ValueError:
            continue
        if _covers(path, PROBE):
            return Path(path)
    try:
        bundled = resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"
        if bundled.is_file() and _covers(str(bundled), PROBE):
            return Path(str(bundled))
    except ModuleNotFoundError:
        pass
    raise ChartFontMissing(
        "no CJK font found for chart labels: reinstall the project (pip install -e .) so that"
        " mplfonts is present, or install a Chinese font such as fonts-noto-cjk"
    )


def missing_glyphs(font_path: Path, labels: list[str]) -> set[str]:
    """Characters of `labels` the font cannot draw."""
    font = FT2Font(str(font_path))
    charmap = font.get_charmap()
    return {ch for label in labels for ch in label if not ch.isspace() and ord(ch) not in charmap}


# The rates each department is ranked on, in the order drawn, with their colours.
RATES = (
    ("response_rate", "chart.response", "#3b6ea5"),
    ("resolution_rate", "chart.resolution", "#5a9e6f"),
    ("on_time_rate", "chart.on_time", "#d08c3c"),
    ("satisfaction_rate", "chart.satisfaction", "#8a5fa8"),
)
BAR = 0.2  # height of one rate's bar; four make a department's group


def rate_label(rate: float | None) -> str:
    """A rate as drawn: a percentage, or 无数据 when it has nothing to count (never 0)."""
    return f"{rate * 100:.0f}%" if rate is not None else t("chart.no_data")


def count_titles(figures: PeriodFigures) -> tuple[str, str]:
    """The titles of the counts by category and by department; where their totals differ
    (withdrawn appeals count by category only), each says what it counts."""
    if not figures.withdrawn_received:
        return t("chart.by_category"), t("chart.by_department")
    return (
        t("chart.by_category_withdrawn", total=figures.new, withdrawn=figures.withdrawn_received),
        t("chart.by_department_withdrawn", counted=figures.departments_received),
    )


def counts_top(counts: list[int]) -> float:
    """Where a count axis ends: a fifth above the largest count, for its label; at least 1,
    so that a year with nothing yet shows 0 and 1, not a range around zero."""
    return max([*counts, 1]) * 1.2


def _say_no_data(axes: Axes, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="#666666")
    axes.set_yticks([])


def render_chart(digest: LeaderDigest, font_path: Path | None = None) -> bytes:
    """The chart as PNG bytes; ChartFontMissing if any label cannot be drawn. Left: the
    year's appeals by category and by department; right: each department's four rates, in
    the digest's ranking, "无数据" where a rate has nothing to count."""
    font_path = font_path or find_cjk_font()
    font_manager.fontManager.addfont(str(font_path))
    family = font_manager.FontProperties(fname=str(font_path)).get_name()
    year = digest.year
    categories = [category for category, _ in year.by_category]
    category_counts = [count for _, count in year.by_category]
    ranked = [t("chart.ranked", rank=n, name=d.name) for n, d in enumerate(year.departments, 1)]
    received = [d.received for d in year.departments]
    title = t("chart.title", week=week_name(digest.week))
    by_category, by_department = count_titles(year)
    rates_title, unit, no_data = t("chart.rates"), t("chart.unit"), t("chart.no_data")
    rate_names = [t(key) for _, key, _ in RATES]
    labels = [title, by_category, by_department, rates_title, unit, no_data, *rate_names]
    missing = missing_glyphs(font_path, labels + categories + ranked)
    if missing:
        raise ChartFontMissing(f"font {font_path.name} lacks: {''.join(sorted(missing))}")
    rows = max(len(ranked), 1)
    with plt.rc_context({"font.family": family, "axes.unicode_minus": False}):
        figure = plt.figure(figsize=(16, max(5.5, 1.2 + 0.75 * rows)), dpi=110)
        grid = figure.add_gridspec(2, 2, width_ratios=(1, 1.6), height_ratios=(1, 1))
        left_top, left_bottom = figure.add_subplot(grid[0, 0]), figure.add_subplot(grid[1, 0])
        right = figure.add_subplot(grid[:, 1])
        figure.suptitle(title, fontsize=14)

        bars = left_top.bar(categories, category_counts, color="#3b6ea5")
        left_top.bar_label(bars, padding=2)
        # from 0, with room for the labels inside the frame (a year with nothing yet: 0–1)
        left_top.set_ylim(0, counts_top(category_counts))
        left_top.yaxis.set_major_locator(MaxNLocator(integer=True))
        left_top.set_title(by_category)
        left_top.set_ylabel(unit)
        for label in left_top.get_xticklabels():
            label.set_rotation(20)
            label.set_horizontalalignment("right")

        bars = left_bottom.barh(ranked[::-1], received[::-1], color="#7f8c9a")
        left_bottom.bar_label(bars, padding=2)
        left_bottom.set_xlim(0, counts_top(received))
        left_bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        left_bottom.set_title(by_department)
        if not ranked:
            _say_no_data(left_bottom, no_data)
            _say_no_data(right, no_data)

        positions = list(range(len(ranked)))[::-1]  # the first ranked at the top
        for index, (attribute, _, colour) in enumerate(RATES):
            offsets = [p + (1.5 - index) * BAR for p in positions]
            values = [getattr(d, attribute) for d in year.departments]
            drawn = right.barh(
                offsets,
                [(v or 0) * 100 for v in values],
                height=BAR,
                color=colour,
                label=rate_names[index],
            )
            right.bar_label(
                drawn,
                labels=[rate_label(v) for v in values],
                padding=2,
                fontsize=8,
                color="#333333",
            )
        right.set_yticks(positions, ranked)
        right.set_xlim(0, 118)  # 100% and its label stay inside the frame
        ticks = [0, 20, 40, 60, 80, 100]
        right.set_xticks(ticks, [f"{tick}%" for tick in ticks])
        right.set_title(rates_title)
        # Under the axis, so it never covers a bar; its swatches drawn from the colours (a
        # chart with no department yet has no bars to take them from).
        swatches = [
            Patch(color=colour, label=rate_names[i]) for i, (_, _, colour) in enumerate(RATES)
        ]
        right.legend(
            handles=swatches, loc="upper center", bbox_to_anchor=(0.5, -0.05), ncols=4, fontsize=9
        )

        figure.tight_layout()
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*Glyph.*missing.*")
            figure.savefig(buffer, format="png")
        plt.close(figure)
    return buffer.getvalue()
