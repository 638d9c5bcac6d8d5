"""Inline SVG charts for the HTML report: no library, no network, text escaped."""

from __future__ import annotations

from html import escape

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569")


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_bars(
    title: str, categories: list[str], series: dict[str, list[float]], *, width: int = 860, height: int = 300
) -> str:
    """Vertical stacked bars: one bar per category (e.g. day), one colour per series (e.g. team)."""
    left, bottom, top = 70, 40, 20
    plot_w, plot_h = width - left - 160, height - bottom - top
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    peak = max(totals, default=0) or 1.0
    slot = plot_w / max(len(categories), 1)
    parts = [_frame(title, width, height)]
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:,.2f}</text>')
    for i, category in enumerate(categories):
        y = top + plot_h
        for s, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / peak
            if h <= 0:
                continue
            y -= h
            parts.append(
                f'<rect class="bar" x="{left + i * slot + 2:.1f}" y="{y:.1f}" width="{max(slot - 4, 1):.1f}" '
                f'height="{h:.1f}" fill="{color(s)}"><title>{escape(category)} {escape(name)}: '
                f"{values[i]:,.2f}</title></rect>"
            )
        if len(categories) <= 16 or i % max(len(categories) // 10, 1) == 0:
            parts.append(
                f'<text x="{left + i * slot + slot / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'font-size="10">{escape(category[-5:])}</text>'
            )
    for s, name in enumerate(series):
        y = top + 14 * s
        parts.append(f'<rect x="{left + plot_w + 16}" y="{y}" width="10" height="10" fill="{color(s)}"/>')
        parts.append(f'<text x="{left + plot_w + 32}" y="{y + 9}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, items: list[tuple[str, float]], *, width: int = 860) -> str:
    """One horizontal bar per item, longest first."""
    row, left, top = 24, 220, 24
    height = top + row * max(len(items), 1) + 10
    peak = max((v for _, v in items), default=0) or 1.0
    plot_w = width - left - 110
    parts = [_frame(title, width, height)]
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = plot_w * value / peak
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(label)}</text>')
        parts.append(
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" '
            f'fill="{color(i)}"><title>{escape(label)}: {value:,.2f}</title></rect>'
        )
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12">{value:,.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _frame(title: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
    )
