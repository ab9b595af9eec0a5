"""Server-side SVG charts for dashboards and the yearly report PDF.

Plain Python (markupsafe only): every label is escaped here, every number is written as text
beside its bar so a chart reads without hovering, and a bar with a link is wrapped in
``<a href>`` to the list behind it. WeasyPrint draws the same SVG in the PDF.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04",
           "#4b5563", "#db2777", "#65a30d")
FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"


@dataclass
class Bar:
    label: str
    value: float
    href: str | None = None
    text: str | None = None  # the number as shown; defaults to the value


@dataclass
class Series:
    label: str
    values: list[float]
    hrefs: list[str | None] = field(default_factory=list)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _link(inner: str, href: str | None, title: str) -> str:
    tip = f"<title>{escape(title)}</title>"
    if not href:
        return f"<g>{tip}{inner}</g>"
    return f'<a href="{escape(href)}" class="figure-link">{tip}{inner}</a>'


def _svg(width: int, height: int, title: str, body: str) -> Markup:
    # every label in ``body`` and the title were escaped; numbers are formatted here
    return Markup(  # nosec B704
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}" font-size="12"><title>{escape(title)}</title>{body}</svg>')


def text_width(text: str) -> float:
    """Rough width in pixels at 12 px: CJK characters are square, Latin ones narrower."""
    return sum(12 if ord(ch) > 0x2E80 else 7 for ch in text)


def bar_chart(title: str, bars: list[Bar], width: int = 520, label_width: int = 150) -> Markup:
    """Horizontal bars, one per category, the number (or text) at the end of each bar; the
    bars leave room for the longest text so nothing is cut off."""
    row, top = 24, 8
    height = top * 2 + row * max(len(bars), 1)
    peak = max((b.value for b in bars), default=0) or 1
    room = max((text_width(b.text if b.text is not None else _num(b.value)) for b in bars),
               default=0) + 12
    span = max(width - label_width - room, 40)
    parts = []
    if not bars:
        parts.append(f'<text x="8" y="{top + 14}" fill="#6b7280">—</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        w = max(b.value / peak * span, 1 if b.value else 0)
        shown = b.text if b.text is not None else _num(b.value)
        inner = (f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(b.label)}</text>'
                 f'<rect x="{label_width}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" '
                 f'fill="{PALETTE[i % len(PALETTE)]}" rx="2"/>'
                 f'<text x="{label_width + w + 4:.1f}" y="{y + 15}" class="value">{escape(shown)}</text>')
        parts.append(_link(inner, b.href, f"{b.label}: {shown}"))
    return _svg(width, height, title, "".join(parts))


def stacked_columns(title: str, columns: list[str], series: list[Series], width: int = 640,
                    height: int = 260, axis_labels: list[str] | None = None) -> Markup:
    """One column per period (e.g. month), stacked by series, the column total above it and a
    legend below; each segment links to its own list. ``axis_labels`` (same length, blanks
    allowed) thin out the axis when there are many columns; tooltips keep the full name."""
    axis_labels = axis_labels if axis_labels is not None else columns
    legend_rows = (len(series) + 3) // 4
    plot_top, plot_bottom = 20, height - 34 - 18 * legend_rows
    left, right = 34, width - 8
    n = max(len(columns), 1)
    slot = (right - left) / n
    bar_w = max(min(slot * 0.7, 40), 2)
    totals = [sum(s.values[i] for s in series) for i in range(len(columns))]
    peak = max(totals, default=0) or 1
    scale = (plot_bottom - plot_top) / peak
    parts = [f'<line x1="{left}" y1="{plot_bottom}" x2="{right}" y2="{plot_bottom}" stroke="#9ca3af"/>',
             f'<text x="{left - 4}" y="{plot_top + 4}" text-anchor="end" fill="#6b7280">{_num(peak)}</text>',
             f'<text x="{left - 4}" y="{plot_bottom}" text-anchor="end" fill="#6b7280">0</text>']
    for i, col in enumerate(columns):
        x = left + i * slot + (slot - bar_w) / 2
        y = plot_bottom
        for k, s in enumerate(series):
            v = s.values[i]
            if not v:
                continue
            h = v * scale
            y -= h
            href = s.hrefs[i] if i < len(s.hrefs) else None
            rect = (f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"/>')
            parts.append(_link(rect, href, f"{col} {s.label}: {_num(v)}"))
        if totals[i]:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
                         f'class="value">{_num(totals[i])}</text>')
        if axis_labels[i]:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{plot_bottom + 14}" text-anchor="middle" '
                         f'fill="#374151">{escape(axis_labels[i])}</text>')
    for k, s in enumerate(series):
        lx = left + (k % 4) * ((right - left) / 4)
        ly = plot_bottom + 30 + (k // 4) * 18
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 10}" width="10" height="10" '
                     f'fill="{PALETTE[k % len(PALETTE)]}"/>'
                     f'<text x="{lx + 14:.1f}" y="{ly}">{escape(s.label)} {_num(sum(s.values))}</text>')
    return _svg(width, height, title, "".join(parts))


def progress(title: str, done: float, target: float, expected: float | None = None,
             width: int = 520, href: str | None = None, text: str | None = None) -> Markup:
    """A target bar: done against target, with a marker where the pace says it should be."""
    left, right, y = 8, width - 8, 10
    span = right - left
    full = max(target, done, 1)
    w = done / full * span
    color = "#16a34a" if done >= target else "#2563eb"
    shown = text or f"{_num(done)} / {_num(target)}"
    bar = (f'<rect x="{left}" y="{y}" width="{span}" height="18" fill="#e5e7eb" rx="3"/>'
           f'<rect x="{left}" y="{y}" width="{w:.1f}" height="18" fill="{color}" rx="3"/>')
    parts = [_link(bar, href, f"{title}: {shown}")]
    tx = left + target / full * span
    parts.append(f'<line x1="{tx:.1f}" y1="{y - 4}" x2="{tx:.1f}" y2="{y + 22}" stroke="#111827" '
                 f'stroke-width="2"/>')
    if expected is not None:
        ex = left + min(expected, full) / full * span
        parts.append(f'<line x1="{ex:.1f}" y1="{y}" x2="{ex:.1f}" y2="{y + 18}" stroke="#ea580c" '
                     f'stroke-width="2" stroke-dasharray="3,2"/>')
    parts.append(f'<text x="{left}" y="{y + 36}" class="value">{escape(shown)}</text>')
    return _svg(width, 52, title, "".join(parts))
