"""Small charts as inline SVG, drawn on the server: readable without JavaScript,
coloured by CSS custom properties that the overview's template sets for the
admin's light and dark themes."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 200
# RIGHT: half a date label, so the last one, centred on the last day, is not cut off.
LEFT, RIGHT, BOTTOM, TOP = 40, 24, 36, 16
# The charts' own colours, not the admin's: its --primary is 2.4:1 against
# its light background and 2:1 against its dark one, and a background colour
# (--message-success-bg) drawn as a line was 1.1:1. The template sets these
# for each theme; the fallbacks are the light theme's.
SERIES_COLOURS = (
    "var(--gc-chart-1, #2b6cb0)",
    "var(--gc-chart-2, #2e7d32)",
    "var(--gc-chart-3, #c62828)",
)
# The third line is dashed too: the second and third differ by hue alone for
# red-green colour blindness.
SERIES_DASHES = ("", "", "5 3")
# A date label's width in the chart's units, "06 Dec" with room to spare:
# a tick nearer than this to the last one would print over it.
LABEL_WIDTH = 48


def _svg(title: str, body: SafeString) -> SafeString:
    return format_html(
        '<svg class="gc-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg"><title>{}</title>{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        title,
        body,
    )


def _axis(top: int) -> SafeString:
    plot_bottom = HEIGHT - BOTTOM
    return format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="var(--border-color)"/>'
        '<text x="{tx}" y="{b}" class="gc-axis">0</text>'
        '<text x="{tx}" y="{t}" class="gc-axis">{top}</text>',
        l=LEFT,
        r=WIDTH - 4,
        b=plot_bottom,
        t=TOP + 4,
        tx=LEFT - 6,
        top=top,
    )


def bar_chart(title: str, labels: Sequence[str], values: Sequence[int]) -> SafeString:
    """Bars with their value above and their label below."""
    top = max([*values, 1])
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT - 4) / max(len(values), 1)
    bars = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_height * value / top
        x = LEFT + index * slot + slot * 0.15
        y = HEIGHT - BOTTOM - height
        bars.append(
            (
                f"{x:.1f}",
                f"{y:.1f}",
                f"{slot * 0.7:.1f}",
                f"{height:.1f}",
                f"{x + slot * 0.35:.1f}",
                f"{y - 4:.1f}",
                value,
                HEIGHT - BOTTOM + 16,
                label,
            )
        )
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
        '<text x="{}" y="{}" class="gc-value">{}</text>'
        '<text x="{}" y="{}" class="gc-label">{}</text>',
        (
            (x, y, w, h, SERIES_COLOURS[0], cx, vy, v, cx, ly, label)
            for x, y, w, h, cx, vy, v, ly, label in bars
        ),
    )
    return _svg(title, mark_safe(_axis(top) + body))  # noqa: S308  (built from format_html)


def line_chart(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]
) -> SafeString:
    """One polyline per series, a legend, and every seventh label below."""
    top = max([v for _name, values in series for v in values] + [1])
    plot_height = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT - RIGHT) / max(len(labels) - 1, 1)
    lines = []
    for index, (name, values) in enumerate(series):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        dash = SERIES_DASHES[index % len(SERIES_DASHES)]
        points = " ".join(
            f"{LEFT + i * step:.1f},{HEIGHT - BOTTOM - plot_height * v / top:.1f}"
            for i, v in enumerate(values)
        )
        lines.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>'
                '<rect x="{}" y="{}" width="10" height="10" fill="{}"/>'
                '<text x="{}" y="{}" class="gc-legend">{}</text>',
                points,
                colour,
                format_html(' stroke-dasharray="{}"', dash) if dash else "",
                LEFT + 10 + index * 150,
                HEIGHT - 12,
                colour,
                LEFT + 24 + index * 150,
                HEIGHT - 3,
                name,
            )
        )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" class="gc-label">{}</text>',
        (
            (f"{LEFT + i * step:.1f}", HEIGHT - BOTTOM + 14, labels[i])
            for i in ticks_shown(labels, step)
        ),
    )
    return _svg(title, mark_safe(_axis(top) + ticks + "".join(lines)))  # noqa: S308


def ticks_shown(labels: Sequence[str], step: float) -> list[int]:
    """Every seventh label and the last, less one too near the last to fit
    beside it (30 days put the 29th's "06 Dec" under the 30th's "07 Dec")."""
    if not labels:
        return []
    last = len(labels) - 1
    return [i for i in range(0, last, 7) if (last - i) * step >= LABEL_WIDTH] + [last]
