"""Server-rendered SVG charts for the dashboard: plain strings, no JavaScript, nothing from a CDN.

Each function takes the numbers and returns one ``<svg>`` element whose text is escaped here; the
colours are the admin's own CSS variables where they exist, so the charts follow its dark mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 560, 180
LEFT, BOTTOM, TOP = 36, 28, 10


def _axis(maximum: int) -> str:
    """The left axis: 0 and the maximum, and a base line."""
    base = HEIGHT - BOTTOM
    return (
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="currentColor" stroke-opacity="0.4"/>'
        f'<text x="{LEFT - 4}" y="{base}" text-anchor="end" font-size="10">0</text>'
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">{maximum}</text>'
    )


def _legend(series: Sequence[tuple[str, str]]) -> str:
    items = []
    for i, (name, colour) in enumerate(series):
        x = LEFT + i * 130
        items.append(
            f'<rect x="{x}" y="{HEIGHT - 12}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 3}" font-size="10">{escape(name)}</text>'
        )
    return "".join(items)


def _svg(title: str, body: str) -> str:
    return (
        f'<svg class="moderato-chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f"{body}</svg>"
    )


def stacked_bars(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], *, every: int = 5
) -> str:
    """One bar per label (a day), its series stacked; ``series``: (name, colour, one value per label).
    Every ``every``-th label is written under its bar; each bar's parts say their numbers on hover."""
    totals = [sum(values[i] for _, _, values in series) for i in range(len(labels))]
    maximum = max(totals, default=0) or 1
    step = (WIDTH - LEFT) / max(len(labels), 1)
    scale = (HEIGHT - BOTTOM - TOP) / maximum
    parts = [_axis(max(totals, default=0))]
    for i, label in enumerate(labels):
        x = LEFT + i * step + 1
        y: float = HEIGHT - BOTTOM
        for name, colour, values in series:
            if values[i]:
                height = values[i] * scale
                y -= height
                parts.append(
                    f'<rect class="moderato-chart-bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                    f'height="{height:.1f}" fill="{colour}"><title>{escape(label)}: {values[i]} '
                    f"{escape(name)}</title></rect>"
                )
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 11}" font-size="9">{escape(label)}</text>')
    parts.append(_legend([(name, colour) for name, colour, _ in series]))
    return _svg(title, "".join(parts))


def histogram_pair(title: str, edges: Sequence[float], series: Sequence[tuple[str, str, Sequence[int]]]) -> str:
    """Side by side bars per bin (``edges``: each bin's lower edge), one colour per series; the
    series are drawn as shares of their own total, so 50 held comments compare with 5,000 published."""
    shares = []
    for _, _, counts in series:
        total = sum(counts) or 1
        shares.append([count / total for count in counts])
    maximum = max((share for values in shares for share in values), default=0) or 1
    group = (WIDTH - LEFT) / max(len(edges), 1)
    width = max((group - 4) / max(len(series), 1), 1)
    scale = (HEIGHT - BOTTOM - TOP) / maximum
    parts = [
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - BOTTOM}" stroke="currentColor" '
        'stroke-opacity="0.4"/>'
    ]
    for i, edge in enumerate(edges):
        for j, (name, colour, counts) in enumerate(series):
            height = shares[j][i] * scale
            x = LEFT + i * group + 2 + j * width
            parts.append(
                f'<rect class="moderato-chart-bar" x="{x:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" '
                f'width="{width:.1f}" height="{height:.1f}" fill="{colour}"><title>{escape(name)} {edge:.1f}'
                f"&#8211;{edge + (edges[1] - edges[0] if len(edges) > 1 else 1):.1f}: {counts[i]}</title></rect>"
            )
        parts.append(f'<text x="{LEFT + i * group + 2:.1f}" y="{HEIGHT - BOTTOM + 11}" font-size="9">{edge:.1f}</text>')
    parts.append(_legend([(f"{name} ({sum(counts)})", colour) for name, colour, counts in series]))
    return _svg(title, "".join(parts))


def horizontal_bars(title: str, rows: Sequence[tuple[str, int, int]]) -> str:
    """Per row (a name, overturned, upheld): the share a person overturned, as a bar of 0-100 %."""
    height = max(len(rows), 1) * 22 + 24
    parts = []
    for i, (name, overturned, upheld) in enumerate(rows):
        total = overturned + upheld
        share = overturned / total if total else 0.0
        y = 8 + i * 22
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="11">{escape(name)}</text>'
            f'<rect x="150" y="{y}" width="300" height="14" fill="currentColor" fill-opacity="0.08"/>'
            f'<rect class="moderato-chart-bar" x="150" y="{y}" width="{300 * share:.1f}" height="14" '
            f'fill="#ba2121"><title>{escape(name)}: {overturned} overturned of {total}</title></rect>'
            f'<text x="456" y="{y + 12}" font-size="11">{share:.0%} of {total}</text>'
        )
    return (
        f'<svg class="moderato-chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f"{''.join(parts)}</svg>"
    )
