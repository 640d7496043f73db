"""Charts drawn on the server as inline SVG: a horizontal bar chart (the home page) and a small
column chart of probabilities (a placement's confidence).

The page's CSP allows no inline style, so every look is a presentation attribute (``fill``,
``font-size``, ``text-anchor``) or a class of console.css. Each chart is a ``<figure>``: the SVG
(``role="img"`` named by its ``<title>`` and described by its ``<desc>``) and the same numbers
as a table, visually hidden or shown, so a screen reader or a printout loses nothing. Nothing
is told by colour alone: values are written next to the bars, the highlighted column is also
named in its label."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

BAR = "#1a4d8f"
BAR_LIGHT = "#9db7d9"
TRACK = "#eef1f6"
INK = "#1b1b1b"

_ids = itertools.count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    #: how the value is written (``"12"``, ``"75 % (3 of 4)"``)
    text: str


def _uid(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _table(
    caption: str, headers: tuple[str, str], rows: Sequence[tuple[str, str]], hidden: bool
) -> Markup:
    cls = "visually-hidden" if hidden else "table-wrap"
    body = Markup("").join(
        Markup('<tr><th scope="row">{}</th><td class="num">{}</td></tr>').format(a, b)
        for a, b in rows
    )
    table = Markup(
        '<table class="data"><caption>{}</caption><thead><tr><th scope="col">{}</th>'
        '<th scope="col" class="num">{}</th></tr></thead><tbody>{}</tbody></table>'
    ).format(caption, headers[0], headers[1], body)
    if hidden:
        return Markup('<div class="{}">{}</div>').format(cls, table)
    return Markup('<div class="{}" tabindex="0" role="region" aria-label="{}">{}</div>').format(
        cls, caption, table
    )


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str,
    headers: tuple[str, str],
    max_value: float | None = None,
    table_hidden: bool = True,
    with_table: bool = True,
) -> Markup:
    """Horizontal bars, one per ``Bar``, longest = ``max_value`` (default: the largest value),
    the value written after each bar; ``headers`` name the table's two columns. Without
    ``with_table`` the page shows its own table of the numbers (the ``desc`` should say so)."""
    width, label_w, value_w, row_h, pad = 480, 96, 136, 30, 6
    track_w = width - label_w - value_w
    top = max((b.value for b in bars), default=0.0)
    scale = max_value if max_value else (top or 1.0)
    height = max(len(bars), 1) * row_h + pad
    tid, did = _uid("chart-title"), _uid("chart-desc")
    parts = [
        Markup(
            '<svg class="chart chart-bars" role="img" aria-labelledby="{t} {d}" '
            'viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
            '<title id="{t}">{title}</title><desc id="{d}">{desc}</desc>'
        ).format(t=tid, d=did, w=width, h=height, title=title, desc=desc)
    ]
    for n, b in enumerate(bars):
        y = pad + n * row_h
        length = 0.0 if scale <= 0 else max(0.0, min(1.0, b.value / scale)) * track_w
        parts.append(
            Markup(
                '<text x="{lx}" y="{ty}" text-anchor="end" fill="{ink}" font-size="14">{label}'
                "</text>"
                '<rect x="{x}" y="{y}" width="{tw}" height="{bh}" fill="{track}"/>'
                '<rect x="{x}" y="{y}" width="{len}" height="{bh}" fill="{bar}"/>'
                '<text x="{vx}" y="{ty}" fill="{ink}" font-size="14">{text}</text>'
            ).format(
                lx=label_w - 8,
                ty=_n(y + row_h / 2 + 1),
                ink=INK,
                label=b.label,
                x=label_w,
                y=y + 3,
                tw=track_w,
                bh=row_h - 10,
                track=TRACK,
                len=_n(length),
                bar=BAR,
                vx=label_w + track_w + 8,
                text=b.text,
            )
        )
    parts.append(Markup("</svg>"))
    svg = Markup("").join(parts)
    table = (
        _table(title, headers, [(b.label, b.text) for b in bars], table_hidden)
        if with_table
        else Markup("")
    )
    return Markup('<figure class="chart-figure">{}{}</figure>').format(svg, table)


def probability_chart(
    probabilities: Sequence[tuple[str, float]],
    *,
    title: str,
    desc: str,
    headers: tuple[str, str],
    highlight: str | None = None,
    highlight_note: str = "",
    table_hidden: bool = False,
) -> Markup:
    """A small column chart of probabilities (0–1) by level, the ``highlight`` column darker
    and its label followed by ``highlight_note`` (so colour is not the only sign)."""
    col_w, gap, chart_h, top_pad, label_h = 56, 16, 110, 22, 40
    width = max(len(probabilities), 1) * (col_w + gap) + gap
    height = top_pad + chart_h + label_h
    tid, did = _uid("chart-title"), _uid("chart-desc")
    parts = [
        Markup(
            '<svg class="chart chart-columns" role="img" aria-labelledby="{t} {d}" '
            'viewBox="0 0 {w} {h}" width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
            '<title id="{t}">{title}</title><desc id="{d}">{desc}</desc>'
            '<line x1="0" y1="{base}" x2="{w}" y2="{base}" stroke="{ink}" stroke-width="1"/>'
        ).format(
            t=tid, d=did, w=width, h=height, title=title, desc=desc, base=top_pad + chart_h, ink=INK
        )
    ]
    rows = []
    for n, (label, p) in enumerate(probabilities):
        p = max(0.0, min(1.0, p))
        x = gap + n * (col_w + gap)
        h = p * chart_h
        y = top_pad + chart_h - h
        strong = label == highlight
        text = f"{round(p * 100)} %"
        rows.append((f"{label} {highlight_note}".strip() if strong else label, text))
        parts.append(
            Markup(
                '<rect x="{x}" y="{y}" width="{cw}" height="{h}" fill="{fill}"/>'
                '<text x="{cx}" y="{vy}" text-anchor="middle" fill="{ink}" font-size="13">'
                "{text}</text>"
                '<text x="{cx}" y="{ly}" text-anchor="middle" fill="{ink}" font-size="14"'
                "{weight}>{label}</text>"
            ).format(
                x=x,
                y=_n(y),
                cw=col_w,
                h=_n(h),
                fill=BAR if strong else BAR_LIGHT,
                cx=x + col_w // 2,
                vy=_n(max(y - 5, 12)),
                ink=INK,
                text=text,
                ly=top_pad + chart_h + 18,
                weight=Markup(' font-weight="700"') if strong else "",
                label=label,
            )
        )
        if strong and highlight_note:
            parts.append(
                Markup(
                    '<text x="{cx}" y="{ly}" text-anchor="middle" fill="{ink}" font-size="12">'
                    "{note}</text>"
                ).format(cx=x + col_w // 2, ly=top_pad + chart_h + 34, ink=INK, note=highlight_note)
            )
    parts.append(Markup("</svg>"))
    svg = Markup("").join(parts)
    return Markup('<figure class="chart-figure">{}{}</figure>').format(
        svg, _table(title, headers, rows, table_hidden)
    )


__all__ = ["Bar", "bar_chart", "probability_chart"]
