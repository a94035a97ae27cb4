"""A numeric 月报 field over the months, one line per enterprise (PNG, Chinese labels)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

from matplotlib import font_manager

from bot.chart import ChartFontMissing, find_cjk_font, missing_glyphs, plt
from bot.rules.monthly import Period
from bot.texts import t


def render_series(
    title: str,
    label: str,
    unit: str,
    lines: dict[str, dict[Period, Decimal]],
    font_path: Path | None = None,
) -> bytes:
    """The chart as PNG bytes; ChartFontMissing if a label cannot be drawn."""
    font_path = font_path or find_cjk_font()
    font_manager.fontManager.addfont(str(font_path))
    family = font_manager.FontProperties(fname=str(font_path)).get_name()
    periods = sorted({p for values in lines.values() for p in values})
    names = [p.label for p in periods]
    heading = t("monthly_chart.title", title=title, label=label)
    axis = t("monthly_chart.axis", label=label, unit=unit) if unit else label
    lacking = missing_glyphs(font_path, [heading, axis, *lines])
    if lacking:
        raise ChartFontMissing(f"the chart font lacks {''.join(sorted(lacking))}")
    with plt.rc_context({"font.family": family, "axes.unicode_minus": False}):
        figure = plt.figure(figsize=(11, 5.5), dpi=110)
        axes = figure.add_subplot(1, 1, 1)
        for name, values in sorted(lines.items()):
            # a month not reported is a gap in its line, not a straight stroke across it
            ys = [float(values[p]) if p in values else float("nan") for p in periods]
            axes.plot(range(len(periods)), ys, marker="o", label=name)
        axes.set_xticks(range(len(names)), names, rotation=45, ha="right")
        axes.set_ylabel(axis)
        axes.set_title(heading)
        axes.grid(True, alpha=0.3)
        if lines:  # beside the lines, never over a point
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        else:
            axes.text(0.5, 0.5, t("chart.no_data"), ha="center", transform=axes.transAxes)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plt.close(figure)
    return buffer.getvalue()
