"""Server-rendered SVG pictures: the interest map and the daily volume/score trend.

Inline SVG (not <img>) so each point's <title> shows the paper's title on hover; every
text is XML-escaped, so paper titles can never become markup."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import numpy as np

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]


@dataclass
class Point:
    paper_id: str
    title: str
    cluster: int  # index into the legend
    library: bool  # filled (library) or ring (recommendation)


def project(vectors: np.ndarray) -> np.ndarray:
    """2-D PCA of the rows (centred SVD); the sign of each axis is fixed so the picture
    does not flip between reloads."""
    x = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    xy = x @ vt[:2].T
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((len(xy), 2 - xy.shape[1]))])
    signs = np.sign(xy[np.argmax(np.abs(xy), axis=0), [0, 1]])
    return xy * np.where(signs == 0, 1, signs)


def interest_map(points: list[Point], xy: np.ndarray, legend: list[str],
                 width: int = 640, height: int = 420) -> str:
    pad = 20
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    plot_h = height - pad * 2 - 18 * len(legend)
    pos = pad + (xy - lo) / span * np.array([width - 2 * pad, plot_h])
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'class="map" role="img" aria-label="interest map">']
    for p, (x, y) in zip(points, pos, strict=True):
        colour = PALETTE[p.cluster % len(PALETTE)]
        style = f'fill="{colour}"' if p.library else \
            f'fill="white" stroke="{colour}" stroke-width="2"'
        out.append(f'<a href="/paper/{escape(p.paper_id)}"><circle cx="{x:.1f}" cy="{y:.1f}" '
                   f'r="5" {style}><title>{escape(p.title)}</title></circle></a>')
    for i, name in enumerate(legend):
        y = height - pad - 18 * (len(legend) - 1 - i)
        out.append(f'<circle cx="{pad + 5}" cy="{y - 4}" r="5" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{pad + 16}" y="{y}" font-size="12">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def trend(volume: list[tuple[str, int]], scores: dict[str, float],
          width: int = 640, height: int = 220) -> str:
    """Bars: papers listed per day; line: the day's top digest score (own scale)."""
    pad, bottom = 30, 30
    n = max(len(volume), 1)
    top_n = max((v for _, v in volume), default=1) or 1
    top_s = max(scores.values(), default=1.0) or 1.0
    bw = (width - 2 * pad) / n
    plot_h = height - pad - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'class="trend" role="img" aria-label="daily volume and scores">',
           f'<text x="{pad}" y="16" font-size="11">{top_n}</text>']
    line = []
    for i, (day, count) in enumerate(volume):
        h = count / top_n * plot_h
        x = pad + i * bw
        out.append(f'<rect x="{x + 1:.1f}" y="{pad + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" '
                   f'height="{h:.1f}" fill="#c9d7ea"><title>{escape(day)}: {count}</title></rect>')
        if day in scores:
            cy = pad + plot_h - max(scores[day], 0) / top_s * plot_h
            line.append(f"{x + bw / 2:.1f},{cy:.1f}")
            out.append(f'<circle cx="{x + bw / 2:.1f}" cy="{cy:.1f}" r="3" fill="#e15759">'
                       f'<title>{escape(day)}: {scores[day]:.2f}</title></circle>')
    if len(line) > 1:
        out.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#e15759" '
                   'stroke-width="1.5"/>')
    if volume:
        out.append(f'<text x="{pad}" y="{height - 8}" font-size="11">{escape(volume[0][0])}</text>'
                   f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">'
                   f'{escape(volume[-1][0])}</text>')
    out.append("</svg>")
    return "".join(out)
