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
from matplotlib.ft2font import FT2Font  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.rules.digest import LeaderDigest  # noqa: E402
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


def render_chart(digest: LeaderDigest, font_path: Path | None = None) -> bytes:
    """The chart as PNG bytes; ChartFontMissing if any label cannot be drawn."""
    font_path = font_path or find_cjk_font()
    font_manager.fontManager.addfont(str(font_path))
    family = font_manager.FontProperties(fname=str(font_path)).get_name()
    year = digest.year
    categories = [category for category, _ in year.by_category]
    category_counts = [count for _, count in year.by_category]
    departments = [d.name for d in year.departments]
    received = [d.received for d in year.departments]
    on_time = [(d.on_time_rate or 0) * 100 for d in year.departments]
    title = t("chart.title", year=digest.week.year, number=digest.week.number)
    by_category, by_department = t("chart.by_category"), t("chart.by_department")
    on_time_label, unit = t("chart.on_time"), t("chart.unit")
    labels = [title, by_category, by_department, on_time_label, unit, *categories, *departments]
    missing = missing_glyphs(font_path, labels)
    if missing:
        raise ChartFontMissing(f"font {font_path.name} lacks: {''.join(sorted(missing))}")
    with plt.rc_context({"font.family": family, "axes.unicode_minus": False}):
        figure, axes = plt.subplots(1, 3, figsize=(16, 5.5), dpi=110)
        figure.suptitle(title, fontsize=14)
        bars = axes[0].bar(categories, category_counts, color="#3b6ea5")
        axes[0].bar_label(bars)
        axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].set_title(by_category)
        axes[0].set_ylabel(unit)
        bars = axes[1].barh(departments[::-1], received[::-1], color="#5a9e6f")
        axes[1].bar_label(bars)
        axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[1].set_title(by_department)
        bars = axes[2].barh(departments[::-1], on_time[::-1], color="#d08c3c")
        axes[2].bar_label(bars, fmt="%.0f")
        axes[2].set_xlim(0, 100)
        axes[2].set_title(on_time_label)
        for label in axes[0].get_xticklabels():
            label.set_rotation(30)
            label.set_horizontalalignment("right")
        figure.tight_layout()
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*Glyph.*missing.*")
            figure.savefig(buffer, format="png")
        plt.close(figure)
    return buffer.getvalue()
