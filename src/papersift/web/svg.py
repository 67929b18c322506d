"""Server-rendered SVG pictures: the interest map and the daily trends of its topics.

Inline SVG (not <img>) so each point's <title> shows the paper's title on hover; every
text is XML-escaped, so paper titles can never become markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

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


class Series(Protocol):
    """One topic's daily numbers (views.TopicTrend)."""

    name: str
    close: list[int]
    mean: list[float | None]
    top: list[float | None]


def trend(days: list[str], series: Sequence[Series], width: int = 640) -> str:
    """Two panels over the same days, one colour per topic (the interest map's): above, the
    papers listed close to each topic; below, the top digest score of its papers (the mean
    is in each point's hover text)."""
    pad, panel, gap, row = 30, 110, 30, 18
    height = pad + 2 * panel + gap + 30 + row * len(series)
    step = (width - 2 * pad) / max(len(days) - 1, 1)
    top_n = max((n for s in series for n in s.close), default=0) or 1
    top_s = max((x for s in series for x in s.top if x is not None), default=0.0) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'class="trend" role="img" aria-label="daily papers and scores per topic">',
           f'<text x="{pad}" y="{pad - 6}" font-size="11">{top_n}</text>',
           f'<text x="{pad}" y="{pad + panel + gap - 6}" font-size="11">{top_s:.2f}</text>']
    for y0 in (pad, pad + panel + gap):
        out.append(f'<rect x="{pad}" y="{y0}" width="{width - 2 * pad}" height="{panel}" '
                   'fill="none" stroke="#8884"/>')

    def x(i: int) -> float:  # a single day's points in the middle, not on the left edge
        return pad + i * step if len(days) > 1 else width / 2

    for k, s in enumerate(series):
        colour, name = PALETTE[k % len(PALETTE)], escape(s.name)
        out.append(f'<g class="series" fill="{colour}" stroke="{colour}">')
        counts = [(x(i), pad + panel - n / top_n * panel) for i, n in enumerate(s.close)]
        if len(counts) > 1:
            out.append('<polyline fill="none" stroke-width="1.5" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in counts) + '"/>')
        for (cx, cy), day, n in zip(counts, days, s.close, strict=True):
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5"><title>{escape(day)} · '
                       f'{name}: {n}</title></circle>')
        base = pad + 2 * panel + gap
        for i, (day, mean, best) in enumerate(zip(days, s.mean, s.top, strict=True)):
            if best is not None:
                out.append(f'<circle cx="{x(i):.1f}" cy="{base - best / top_s * panel:.1f}" '
                           f'r="3.5"><title>{escape(day)} · {name}: {best:.2f} '
                           f'(mean {mean:.2f})</title></circle>')
        y = base + 20 + row * (k + 1)
        out.append(f'<rect x="{pad}" y="{y - 10}" width="10" height="10"/>'
                   f'<text x="{pad + 16}" y="{y}" font-size="12" stroke="none" '
                   f'fill="currentColor">{name}</text></g>')
    if days:
        y = pad + 2 * panel + gap + 14
        out.append(f'<text x="{pad}" y="{y}" font-size="11">{escape(days[0])}</text>'
                   f'<text x="{width - pad}" y="{y}" font-size="11" text-anchor="end">'
                   f'{escape(days[-1])}</text>')
    out.append("</svg>")
    return "".join(out)
