"""Inline SVG charts for the run report: plain strings, no script, no external resource."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

from curation.report.model import Histogram

# kept, dropped by the stage that wrote the signal, dropped by another stage
COLORS = ("#3f8f5f", "#c8503c", "#b9b9b9")


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def fmt_num(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:,.0f}"


def legend(labels: Sequence[str] = ("kept", "dropped by this stage", "dropped by another stage")):
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{esc(t)}</span>'
            for c, t in zip(COLORS, labels, strict=False)
        )
        + "</div>"
    )


def stage_palette(stages: Sequence[str]) -> dict[str, str]:
    hues = ("#c8503c", "#d98a2b", "#8e6bbf", "#3b82b0", "#b0467a", "#5b8c3a", "#8a6d3b")
    return {s: hues[i % len(hues)] for i, s in enumerate(stages)}


def _text(
    x: float, y: float, s: str, anchor: str = "start", size: int = 11, fill: str = "#1f2328"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}">{esc(s)}</text>'
    )


def _clip(label: str, n: int = 38) -> str:
    return label if len(label) <= n else label[: n - 1] + "\u2026"


def svg_funnel(
    rows: Sequence[tuple[str, int, int, int, int]], docs_total: int, bytes_total: int
) -> str:
    """Two bar columns (documents, bytes): what enters each stage and what it keeps."""
    label_w, bar_w, gap, row_h, top = 170, 430, 40, 26, 26
    width = label_w + 2 * bar_w + gap + 10
    height = top + row_h * len(rows) + 8
    parts = [_svg_open(width, height)]
    parts.append(_text(label_w, 14, "documents", size=12))
    parts.append(_text(label_w + bar_w + gap, 14, "bytes", size=12))
    for i, (stage, d_in, d_kept, b_in, b_kept) in enumerate(rows):
        y = top + i * row_h
        parts.append(_text(label_w - 8, y + 14, _clip(stage, 24), "end"))
        for x0, total, n_in, n_kept, fmt in (
            (label_w, docs_total, d_in, d_kept, lambda n: f"{n:,}"),
            (label_w + bar_w + gap, bytes_total, b_in, b_kept, fmt_bytes),
        ):
            scale = (bar_w - 90) / total if total else 0
            w_in, w_kept = n_in * scale, n_kept * scale
            parts.append(
                f'<rect x="{x0}" y="{y}" width="{w_in:.1f}" height="{row_h - 6}" '
                f'fill="{COLORS[1]}" opacity="0.35"/>'
            )
            parts.append(
                f'<rect x="{x0}" y="{y}" width="{w_kept:.1f}" height="{row_h - 6}" '
                f'fill="{COLORS[0]}"/>'
            )
            parts.append(_text(x0 + w_in + 4, y + 14, fmt(n_kept), size=10, fill="#656d76"))
    parts.append("</svg>")
    return "\n".join(parts) + legend(("kept by the stage", "dropped by the stage"))


def svg_hbars_colored(rows: Sequence[tuple[str, Sequence[int], str]]) -> str:
    """One bar per row in its own color (drops per reason, colored by stage)."""
    label_w, bar_w, row_h = 300, 520, 20
    width, height = label_w + bar_w + 80, row_h * len(rows) + 6
    top = max((sum(v) for _, v, _ in rows), default=0) or 1
    parts = [_svg_open(width, height)]
    for i, (label, values, color) in enumerate(rows):
        y = i * row_h + 2
        w = bar_w * sum(values) / top
        parts.append(_text(label_w - 8, y + 12, _clip(label, 44), "end"))
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 5}" fill="{color}"/>'
        )
        parts.append(_text(label_w + w + 4, y + 12, f"{sum(values):,}", size=10, fill="#656d76"))
    parts.append("</svg>")
    return "\n".join(parts)


def svg_hbars_stacked(
    rows: Sequence[tuple[str, Sequence[int]]], colors: Sequence[str] = COLORS
) -> str:
    """Horizontal bars stacked by share (kept / dropped here / dropped elsewhere)."""
    label_w, bar_w, row_h = 150, 360, 18
    width, height = label_w + bar_w + 70, row_h * len(rows) + 6
    top = max((sum(v) for _, v in rows), default=0) or 1
    parts = [_svg_open(width, height)]
    for i, (label, values) in enumerate(rows):
        y = i * row_h + 2
        parts.append(_text(label_w - 6, y + 11, _clip(label, 22), "end"))
        x = float(label_w)
        for k, v in enumerate(values):
            if v:
                w = bar_w * v / top
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 4}" '
                    f'fill="{colors[k]}"/>'
                )
                x += w
        parts.append(_text(x + 4, y + 11, f"{sum(values):,}", size=10, fill="#656d76"))
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_open(width: float, height: float) -> str:
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        'style="max-width:100%;height:auto">'
    )


def svg_histogram(h: Histogram) -> str:
    """Stacked bars per bin; clipped tails as separate edge bars; thresholds as dashed lines.

    When one bin holds most values (e.g. toxicity scores of 0), heights are on a log scale so
    the rest stays visible; the chart says so.
    """
    width, height, left, right, top, bottom = 560, 210, 46, 12, 16, 34
    edge_w = 14  # width of the under/overflow bars, set apart by a gap
    has_under, has_over = sum(h.under) > 0, sum(h.over) > 0
    x0 = left + (edge_w + 6 if has_under else 0)
    x1 = width - right - (edge_w + 6 if has_over else 0)
    plot_h = height - top - bottom
    columns = [sum(b) for b in h.bins] + [sum(h.under), sum(h.over)]
    ymax = max(columns) or 1
    log = ymax > 0.8 * sum(columns) and sum(1 for c in columns if c) > 1
    bw = (x1 - x0) / len(h.bins)
    base = top + plot_h

    def height_of(v: int) -> float:
        return plot_h * (math.log1p(v) / math.log1p(ymax) if log else v / ymax)

    parts = [_svg_open(width, height)]
    parts.append(
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#8c959f"/>'
    )
    parts.append(_text(left - 4, top + 8, fmt_num(ymax), "end", size=10, fill="#656d76"))
    parts.append(_text(left - 4, base, "0", "end", size=10, fill="#656d76"))
    if log:
        parts.append(_text(left - 4, top + 20, "log", "end", size=9, fill="#656d76"))

    def stack(x: float, w: float, counts: Sequence[int], opacity: str = "1") -> None:
        # Segment edges sit at the heights of cumulative counts, so on a log scale a small
        # share stays a thin slice instead of taking its linear fraction of a tall bar.
        below = 0
        for k, v in enumerate(counts):
            if v:
                y, hgt = base - height_of(below + v), height_of(below + v) - height_of(below)
                below += v
                parts.append(
                    f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0.5):.2f}" height="{hgt:.2f}" '
                    f'fill="{COLORS[k]}" opacity="{opacity}"/>'
                )

    for i, counts in enumerate(h.bins):
        stack(x0 + i * bw + 0.5, bw - 1, counts)
    if has_under:
        stack(left, edge_w, h.under, "0.7")
        parts.append(
            _text(left + edge_w / 2, base + 26, f"<{fmt_num(h.lo)}", "middle", 9, "#656d76")
        )
    if has_over:
        stack(width - right - edge_w, edge_w, h.over, "0.7")
        parts.append(
            _text(
                width - right - edge_w / 2, base + 26, f">{fmt_num(h.hi)}", "middle", 9, "#656d76"
            )
        )
    for value, x in _ticks(h, x0, x1):
        parts.append(
            f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#8c959f"/>'
        )
        anchor = "end" if x > width - right - 24 else "middle"  # keep the last label inside
        parts.append(_text(x, base + 15, fmt_num(value), anchor, 10, "#656d76"))
    for i, (name, value) in enumerate(sorted(h.signal.thresholds.items(), key=lambda kv: kv[1])):
        if value < h.lo:
            x, mark = float(x0), "\u2190 "
        elif value > h.hi:
            x, mark = float(x1), "\u2192 "
        else:
            x, mark = x0 + (value - h.lo) / (h.hi - h.lo) * (x1 - x0), ""
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{base}" stroke="#1f2328" '
            'stroke-width="1.5" stroke-dasharray="5,3"/>'
        )
        anchor = "end" if x > (x0 + x1) / 2 else "start"
        dx = -4 if anchor == "end" else 4
        label = f"{mark}{name}={fmt_num(value)}"
        parts.append(_text(x + dx, top + 6 + 12 * i, label, anchor, 10))
    parts.append("</svg>")
    return "\n".join(parts)


def _ticks(h: Histogram, x0: float, x1: float) -> list[tuple[float, float]]:
    """(value, x) of axis labels: bin centres for small integer ranges, else five even steps."""
    n = len(h.bins)
    bw = (x1 - x0) / n
    if h.integer and h.width == 1:
        step = max(1, math.ceil(n / 8))
        return [(h.lo + i, x0 + (i + 0.5) * bw) for i in range(0, n, step)]
    return [
        (round(h.lo + f * (h.hi - h.lo), 6), x0 + f * (x1 - x0)) for f in (0, 0.25, 0.5, 0.75, 1)
    ]
