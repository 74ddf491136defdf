"""The results page's charts as inline SVG: each variant's value with its interval, each
treatment's difference from control over time with its interval band, and exposures over time.
The numbers come from the results service; the page's tables repeat them."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from markupsafe import Markup

from flagyard.api.console.charts import PALETTE

WIDTH = 600
LABEL_WIDTH = 150  # left margin for variant names
ROW = 40
LEGEND_STEP = 200  # three legend entries a line: room for "name 12,345" at phone text sizes


def _short(text: str, limit: int = 12) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) covering low..high."""
    if high - low < 1e-12:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high - step * 1e-9 or len(ticks) < 2:
        ticks.append(ticks[0] + step * len(ticks))
    return [round(tick, 12) for tick in ticks]


def _trimmed(text: str) -> str:
    """A tick label without trailing zeros: 20.00 % → 20 %, 1.50 → 1.5."""
    return re.sub(r"\.(\d*?)0+(?=\D|$)", lambda m: "." + m.group(1) if m.group(1) else "", text)


def variant_values(variants: Sequence[Mapping[str, Any]], control: str | None,
                   fmt: Callable[[float], str], title: str, interval: str = "interval") -> Markup:
    """One row per variant: a dot at its value and, for each treatment, a bar spanning the
    interval of its difference from control (`interval` names it, e.g. "97.5 % interval") drawn
    around its value; control's value is the dashed line, so a bar that crosses the line is a
    difference chance could explain."""
    shown = [v for v in variants if v.get("value") is not None]
    if not shown:
        return Markup("")
    reference = next((v["value"] for v in shown if v["key"] == control), None)
    ends: list[float] = []
    for v in shown:
        ends.append(v["value"])
        if v.get("ci") and reference is not None:
            ends += [reference + v["ci"][0], reference + v["ci"][1]]
    margin = (max(ends) - min(ends)) * 0.05  # no dot on the chart's edge
    ticks = nice_ticks(min(ends) - margin, max(ends) + margin, count=3)
    left, right = LABEL_WIDTH, WIDTH - 24
    span = ticks[-1] - ticks[0]

    def x(value: float) -> float:
        return left + (value - ticks[0]) / span * (right - left)

    top = 16
    axis_y = top + ROW * len(variants)
    height = axis_y + 26
    parts: list[str] = []
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{axis_y}" stroke="#e2e8f0"/>'
                     f'<text x="{x(tick):.1f}" y="{axis_y + 18}" text-anchor="middle">{escape(_trimmed(fmt(tick)))}</text>')
    parts.append(f'<line x1="{left}" y1="{axis_y + .5}" x2="{right}" y2="{axis_y + .5}" stroke="#94a3b8"/>')
    if reference is not None:
        rx = x(reference)
        parts.append(f'<line x1="{rx:.1f}" y1="{top - 8}" x2="{rx:.1f}" y2="{axis_y}" stroke="#475569" '
                     f'stroke-dasharray="5 4" stroke-width="1.5"/>')
    described: list[str] = []
    for index, v in enumerate(variants):
        y = top + ROW * index + ROW / 2 + 4
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<text x="{left - 10}" y="{y + 5:.1f}" text-anchor="end">{escape(_short(str(v["key"])))}</text>')
        if v.get("value") is None:
            parts.append(f'<text x="{left + 4}" y="{y + 5:.1f}" class="chart-muted">no exposures yet</text>')
            described.append(f"{v['key']} no exposures")
            continue
        value = float(v["value"])
        text = f"{v['key']}: {fmt(value)}"
        if v.get("ci") and reference is not None:
            a, b = x(reference + v["ci"][0]), x(reference + v["ci"][1])
            parts.append(
                f'<line x1="{a:.1f}" y1="{y:.1f}" x2="{b:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="3"/>'
                f'<line x1="{a:.1f}" y1="{y - 7:.1f}" x2="{a:.1f}" y2="{y + 7:.1f}" stroke="{colour}" stroke-width="2"/>'
                f'<line x1="{b:.1f}" y1="{y - 7:.1f}" x2="{b:.1f}" y2="{y + 7:.1f}" stroke="{colour}" stroke-width="2"/>')
            text += f" ({interval} {fmt(reference + v['ci'][0])} to {fmt(reference + v['ci'][1])})"
        parts.append(f'<circle cx="{x(value):.1f}" cy="{y:.1f}" r="6" fill="{colour}" stroke="#fff" '
                     f'stroke-width="1.5"><title>{escape(text)}</title></circle>'
                     f'<text x="{x(value):.1f}" y="{y - 10:.1f}" text-anchor="middle">{escape(fmt(value))}</text>')
        described.append(text)
    label = escape(f"{title}: " + "; ".join(described))
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}">'
        f"<title>{label}</title>" + "".join(parts) + "</svg>"
    )


def _legend(variants: Sequence[str], totals: Mapping[str, int], y: float, left: float) -> tuple[str, float]:
    parts = []
    for number, key in enumerate(variants):
        parts.append(f'<g transform="translate({left + (number % 3) * LEGEND_STEP},{y + (number // 3) * 24})">'
                     f'<rect width="12" height="12" y="-1" fill="{PALETTE[number % len(PALETTE)]}"/>'
                     f'<text x="18" y="10">{escape(_short(key))} {totals.get(key, 0):,}</text></g>')
    return "".join(parts), y + 24 * ((len(variants) + 2) // 3)


def exposures_over_time(points: Sequence[Mapping[str, Any]], variants: Sequence[str],
                        title: str = "Exposed users over time") -> Markup:
    """Cumulative exposed users per variant, one line each, oldest left; with a single
    interval so far, one bar per variant."""
    if not points:
        return Markup("")
    totals = {key: int(points[-1]["cumulative"].get(key, 0)) for key in variants}
    top = max(totals.values(), default=0) or 1
    left, right, plot_top, bottom = 60, WIDTH - 12, 14, 150
    first, last = (p["start"][:16].replace("T", " ") for p in (points[0], points[-1]))
    parts = [f'<line x1="{left}" y1="{plot_top}" x2="{right}" y2="{plot_top}" stroke="#e2e8f0"/>',
             f'<line x1="{left}" y1="{bottom + .5}" x2="{right}" y2="{bottom + .5}" stroke="#94a3b8"/>',
             f'<text x="{left - 8}" y="{plot_top + 5}" text-anchor="end">{top:,}</text>',
             f'<text x="{left - 8}" y="{bottom}" text-anchor="end">0</text>']

    def y_of(n: int) -> float:
        return bottom - (bottom - plot_top) * n / top

    if len(points) == 1:
        slot = (right - left) / max(len(variants), 1)
        width = min(slot * 0.6, 90)
        for number, key in enumerate(variants):
            cx = left + slot * (number + 0.5)
            parts.append(f'<rect x="{cx - width / 2:.1f}" y="{y_of(totals[key]):.1f}" width="{width:.1f}" '
                         f'height="{bottom - y_of(totals[key]):.1f}" fill="{PALETTE[number % len(PALETTE)]}">'
                         f'<title>{escape(key)}: {totals[key]}</title></rect>')
        parts.append(f'<text x="{left}" y="{bottom + 20}">all in the {escape(first)} interval</text>')
    else:
        step = (right - left) / (len(points) - 1)
        for number, key in enumerate(variants):
            colour = PALETTE[number % len(PALETTE)]
            coords = [(left + i * step, y_of(int(p["cumulative"].get(key, 0)))) for i, p in enumerate(points)]
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
            if len(points) <= 60:  # a point per interval while they stay apart
                for (px, py), p in zip(coords, points, strict=True):
                    parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"><title>'
                                 f'{escape(key)} {escape(p["start"])}: {p["cumulative"].get(key, 0)}</title></circle>')
        parts.append(f'<text x="{left}" y="{bottom + 20}">{escape(first)}</text>'
                     f'<text x="{right}" y="{bottom + 20}" text-anchor="end">{escape(last)}</text>')
    legend, height = _legend(variants, totals, bottom + 46, left)
    parts.append(legend)
    summary = ", ".join(f"{key} {totals[key]}" for key in variants)
    label = escape(f"{title}, from {first} to {last}: {summary}")
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{label}">'
        f"<title>{label}</title>" + "".join(parts) + "</svg>"
    )


def _moment(start: str) -> float:
    return datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp()


Point = tuple[float, Mapping[str, Any], str]  # x, a treatment's figures then, the interval's start


def _runs(points: Sequence[Point]) -> list[list[Point]]:
    """Consecutive points that have figures: a band is drawn along each run, not across a gap."""
    runs: list[list[Point]] = [[]]
    for point in points:
        if point[1].get("ci"):
            runs[-1].append(point)
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if run]


def _band(run: Sequence[Point], y: Callable[[float], float], colour: str) -> str:
    """The interval around a run of points: a shaded band, or an error bar for a lone point."""
    if len(run) == 1:
        px, row, _ = run[0]
        low, high = y(row["ci"][0]), y(row["ci"][1])
        return (f'<line x1="{px:.1f}" y1="{low:.1f}" x2="{px:.1f}" y2="{high:.1f}" stroke="{colour}" stroke-width="3"/>'
                f'<line x1="{px - 7:.1f}" y1="{low:.1f}" x2="{px + 7:.1f}" y2="{low:.1f}" stroke="{colour}" stroke-width="2"/>'
                f'<line x1="{px - 7:.1f}" y1="{high:.1f}" x2="{px + 7:.1f}" y2="{high:.1f}" stroke="{colour}" stroke-width="2"/>')
    upper = [f"{px:.1f},{y(row['ci'][1]):.1f}" for px, row, _ in run]
    lower = [f"{px:.1f},{y(row['ci'][0]):.1f}" for px, row, _ in reversed(run)]
    line = " ".join(f"{px:.1f},{y(row['difference']):.1f}" for px, row, _ in run)
    return (f'<polygon points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.18" stroke="none"/>'
            f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2.5"/>')


def _marker(px: float, key: str, row: Mapping[str, Any], start: str, y: Callable[[float], float],
            colour: str, fmt: Callable[[float], str], interval: str, axis_y: float, radius: float) -> tuple[str, str]:
    """One treatment at one interval's end: a dot with its figures, or a grey tick on the axis
    when the minimum samples were not met then; and the same in words."""
    attrs = f'class="point" data-variant="{escape(key)}" data-start="{escape(start)}"'
    if not row.get("ci"):
        said = f"{key} at the end of {start[:16].replace('T', ' ')}: minimum samples not met"
        return (f'<g {attrs}><line x1="{px:.1f}" y1="{axis_y - 8:.1f}" x2="{px:.1f}" y2="{axis_y:.1f}" '
                f'stroke="#94a3b8" stroke-width="3"><title>{escape(said)}</title></line></g>'), said
    low, high, difference = row["ci"][0], row["ci"][1], row["difference"]
    said = (f"{key} at the end of {start[:16].replace('T', ' ')}: {fmt(difference)} "
            f"({interval} {fmt(low)} to {fmt(high)})")
    return (f'<g {attrs} data-difference="{difference!r}" data-ci-low="{low!r}" data-ci-high="{high!r}">'
            f'<circle cx="{px:.1f}" cy="{y(difference):.1f}" r="{radius}" fill="{colour}" stroke="#fff" stroke-width="1">'
            f"<title>{escape(said)}</title></circle></g>"), said


def difference_over_time(series: Sequence[Mapping[str, Any]], colours: Mapping[str, str],
                         fmt: Callable[[float], str], title: str, interval: str) -> Markup:
    """Each treatment's difference from control as it stood at the end of each interval: a line
    through the differences inside a band for the interval (`interval` names its level), and a
    dashed line at zero, so a band clear of the line is a difference chance hardly explains.
    Intervals are placed by their start time; one before the minimum samples has no figures and
    shows as a grey tick on the axis. `colours` maps each treatment to its colour, in order."""
    keys = [k for k in colours if any(v["key"] == k for p in series for v in p["variants"])]
    if not series or not keys:
        return Markup("")
    ends = [0.0] + [value for p in series for v in p["variants"] if v.get("ci")
                    for value in (v["ci"][0], v["ci"][1], v["difference"])]
    ticks = nice_ticks(min(ends), max(ends), count=4)
    left, right, top, axis_y = 90, WIDTH - 16, 14, 200
    times = [_moment(p["start"]) for p in series]
    earliest, latest = min(times), max(times)

    def x(moment: float) -> float:
        if latest == earliest:
            return (left + right) / 2
        return left + 14 + (moment - earliest) / (latest - earliest) * (right - left - 28)

    def y(value: float) -> float:
        return axis_y - (value - ticks[0]) / (ticks[-1] - ticks[0]) * (axis_y - top)

    parts: list[str] = []
    for tick in ticks:
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{right}" y2="{y(tick):.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{escape(_trimmed(fmt(tick)))}</text>')
    parts.append(f'<line x1="{left}" y1="{axis_y + .5}" x2="{right}" y2="{axis_y + .5}" stroke="#94a3b8"/>')
    parts.append(f'<line class="zero" x1="{left}" y1="{y(0):.1f}" x2="{right}" y2="{y(0):.1f}" stroke="#475569" '
                 f'stroke-dasharray="5 4" stroke-width="1.5"><title>no difference from control</title></line>')
    described: list[str] = []
    for n, key in enumerate(keys):
        colour = colours[key]
        dodge = (n - (len(keys) - 1) / 2) * 10  # treatments side by side, not on top of each other
        points = [(x(moment) + dodge, row, p["start"]) for moment, p in zip(times, series, strict=True)
                  for row in p["variants"] if row["key"] == key]
        parts += [_band(run, y, colour) for run in _runs(points)]
        said = ""
        radius = 4.5 if len(series) <= 60 else 2  # many intervals: small dots, the line shows the way
        for px, row, start in points:
            marker, said = _marker(px, key, row, start, y, colour, fmt, interval, axis_y, radius)
            parts.append(marker)
        described.append(said)  # the last interval's figures: where the treatment stands now
    first, last = (p["start"][:16].replace("T", " ") for p in (series[0], series[-1]))
    if len(series) == 1:
        parts.append(f'<text x="{left}" y="{axis_y + 24}">all in the {escape(first)} interval</text>')
    else:
        parts.append(f'<text x="{left}" y="{axis_y + 24}">{escape(first)}</text>'
                     f'<text x="{right}" y="{axis_y + 24}" text-anchor="end">{escape(last)}</text>')
    legend = "".join(
        f'<g transform="translate({left + (n % 3) * LEGEND_STEP},{axis_y + 46 + (n // 3) * 24})">'
        f'<rect width="12" height="12" y="-1" fill="{colours[key]}"/><text x="18" y="10">{escape(_short(key))}</text></g>'
        for n, key in enumerate(keys))
    height = axis_y + 46 + 24 * ((len(keys) + 2) // 3)
    label = escape(f"{title}, {len(series)} intervals from {first} to {last}")
    return Markup(
        f'<svg class="chart" id="over-time-chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{label}">'
        f"<title>{label}</title><desc>{escape('; '.join(described))}</desc>" + "".join(parts) + legend + "</svg>"
    )
