"""The Excel form of a calibration report: the numbers per item, and each item's characteristic
curve as a picture (matplotlib, Agg), built from the stored JSON report.

The conventions of ``etest.report.workbook`` hold (this package may not import it): text is
written with ``write_string`` and a leading formula character gets ``'``; numbers stay numbers;
an empty value leaves the cell empty. The report is small (one row per item), so the workbook is
built in memory; pictures are drawn at a low resolution (about 15 kB each)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xlsxwriter  # type: ignore[import-untyped]
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from etest import irt

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: A string beginning with one of these is a formula to some spreadsheet (or a CSV reader).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_THETA = np.linspace(-4.0, 4.0, 161)
#: Curves per row of the Curves sheet, and the cells one picture covers.
_PER_ROW, _COLS_PER_PICTURE, _ROWS_PER_PICTURE = 3, 8, 16

#: (header, how to read the value from an item row, kind, width)
_COLUMNS: tuple[tuple[str, str, str, float], ...] = (
    ("Code", "code", "text", 22),
    ("Type", "type", "text", 14),
    ("Status", "status", "text", 9),
    ("Version", "version", "int", 8),
    ("Model", "model", "text", 7),
    ("Anchored", "anchored", "bool", 9),
    ("n", "n", "int", 8),
    ("p-value", "p_value", "float", 9),
    ("a", "a", "float", 8),
    ("SE a", "se_a", "float", 8),
    ("b", "b", "float", 8),
    ("SE b", "se_b", "float", 8),
    ("c", "c", "float", 8),
    ("SE c", "se_c", "float", 8),
    ("Steps (GPCM)", "steps", "text", 24),
    ("Stored a", "stored.a", "float", 9),
    ("Stored b", "stored.b", "float", 9),
    ("Stored c", "stored.c", "float", 9),
    ("Fit statistic", "fit.statistic", "float", 11),
    ("Fit df", "fit.df", "int", 7),
    ("Fit p", "fit.p", "float", 8),
    ("Drift z (b)", "drift.z_b", "float", 10),
    ("Drift z (a)", "drift.z_a", "float", 10),
    ("Served", "served", "int", 8),
    ("Exposure", "exposure", "percent", 9),
    ("Flags", "flags", "text", 24),
)


def safe_text(value: str) -> str:
    """``value`` as text no spreadsheet will evaluate: a leading formula character gets ``'``."""
    if value.startswith(_FORMULA_TRIGGERS):
        value = "'" + value
    return value[:32_767]


def _get(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _write(ws: Any, r: int, c: int, kind: str, value: Any, formats: dict[str, Any]) -> None:
    if value is None:
        return
    if kind == "bool":
        ws.write_boolean(r, c, bool(value))
    elif kind in ("int", "float", "percent"):
        if isinstance(value, int | float) and math.isfinite(value):
            ws.write_number(r, c, value, formats.get(kind))
    elif isinstance(value, list):
        ws.write_string(r, c, safe_text(", ".join(map(str, value))))
    else:
        ws.write_string(r, c, safe_text(str(value)))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "float" if isinstance(value, int | float) else "text"


class Curves:
    """Draws item characteristic curves: the new estimate (or the anchor), the stored
    parameters (dashed) and the observed proportions correct by ability bin (dots sized by their
    responses). The frame (axes, ticks, labels, legend) is drawn once and kept as a background;
    per item only the curves, dots and title are drawn over it (a new figure per item costs
    about 20 times as much)."""

    def __init__(self) -> None:
        self.fig = Figure(figsize=(4.0, 2.9), dpi=80)
        self.canvas = FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.14, right=0.97, top=0.9, bottom=0.15)
        ax = self.ax = self.fig.subplots()
        (self.new,) = ax.plot([], [], lw=1.6, label="new")
        (self.stored,) = ax.plot([], [], lw=1.2, ls="--", color="grey", label="stored")
        self.seen = ax.scatter([], [], s=[], color="black", zorder=3, label="seen")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(-4, 4)
        ax.set_xlabel("θ (logits)", fontsize=8)
        ax.set_ylabel("P(correct)", fontsize=8)
        ax.tick_params(labelsize=7)
        self.title = ax.set_title("", fontsize=8)
        ax.legend(fontsize=6, loc="lower right")
        self.moving = (self.new, self.stored, self.seen, self.title)
        for artist in self.moving:
            artist.set_animated(True)
        self.canvas.draw()  # type: ignore[no-untyped-call]
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)  # type: ignore[no-untyped-call]

    def png(self, row: dict[str, Any]) -> bytes:
        """One item's picture (``row``: an item of the JSON report). An item scored 0 … k
        (GPCM) is drawn as its expected share of the points, which its dots observe."""
        empty = np.zeros(0)
        if row.get("steps") and row.get("a") is not None:
            self.new.set_data(_THETA, _share(row["a"], row["steps"]))
        elif row.get("a") is not None and row.get("b") is not None:
            self.new.set_data(
                _THETA, irt.probability(_THETA, row["a"], row["b"], row.get("c") or 0)
            )
        else:
            self.new.set_data(empty, empty)
        stored = row.get("stored") or {}
        if stored.get("steps") and not row.get("anchored"):
            self.stored.set_data(_THETA, _share(stored.get("a") or 1.0, stored["steps"]))
        elif stored.get("b") is not None and not row.get("anchored"):
            a, c = stored.get("a") or 1.0, stored.get("c") or 0.0
            self.stored.set_data(_THETA, irt.probability(_THETA, a, stored["b"], c))
        else:
            self.stored.set_data(empty, empty)
        icc = row.get("icc") or {}
        points = [
            (t, p, n)
            for t, p, n in zip(
                icc.get("theta", []), icc.get("observed", []), icc.get("n", []), strict=False
            )
            if t is not None and p is not None
        ]
        if points:
            top = max(n for _, _, n in points)
            self.seen.set_offsets([(t, p) for t, p, _ in points])
            self.seen.set_sizes([6 + 40 * n / top for _, _, n in points])
        else:
            self.seen.set_offsets(np.zeros((0, 2)))
        flags = ", ".join(row.get("flags") or [])
        what = "anchored" if row.get("anchored") else "new"
        self.title.set_text(
            f"{row['code']}  {what} {row.get('model')}  n={row.get('n')}"
            + (f"  [{flags}]" if flags else "")
        )
        self.canvas.restore_region(self.background)  # type: ignore[no-untyped-call]
        for artist in self.moving:
            self.ax.draw_artist(artist)
        buf = io.BytesIO()
        pixels = np.asarray(self.canvas.buffer_rgba())  # type: ignore[no-untyped-call]
        Image.fromarray(pixels).convert("RGB").save(buf, "png")
        return buf.getvalue()


def _share(a: float, steps: list[float]) -> Any:
    """A GPCM item's expected score over its maximum, on the curve's θ grid."""
    return irt.gpcm_expected_score(_THETA, a, steps).reshape(-1) / len(steps)


def _table(
    book: Any, name: str, header: Any, columns: Sequence[tuple[str, str, str, float]], rows: Any
) -> Any:
    ws = book.add_worksheet(name)
    formats = {
        "float": book.add_format({"num_format": "0.000"}),
        "int": book.add_format({"num_format": "0"}),
        "percent": book.add_format({"num_format": "0.0%"}),
    }
    for c, (title, _, _, width) in enumerate(columns):
        ws.set_column(c, c, width)
        ws.write_string(0, c, title, header)
    for r, row in enumerate(rows, start=1):
        for c, (_, path, kind, _) in enumerate(columns):
            _write(ws, r, c, kind, _get(row, path), formats)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
    return ws


def workbook(run: dict[str, Any]) -> bytes:
    """The workbook of a calibration (``run``: id, status, params, report as the API shows)."""
    report: dict[str, Any] = run["report"] or {}
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(
        buf,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1})
    items = report.get("items", [])
    _table(book, "Items", header, _COLUMNS, items)
    curves = book.add_worksheet("Curves")
    draw = Curves()
    for n, row in enumerate(items):
        r, c = divmod(n, _PER_ROW)
        curves.insert_image(
            r * _ROWS_PER_PICTURE,
            c * _COLS_PER_PICTURE,
            f"{n}.png",
            {"image_data": io.BytesIO(draw.png(row)), "object_position": 3},
        )
    few = (("Code", "code", "text", 22), ("Type", "type", "text", 14))
    _table(
        book,
        "Too few responses",
        header,
        (*few, ("Status", "status", "text", 9), ("n", "n", "int", 8)),
        report.get("too_few", []),
    )
    _table(
        book,
        "Excluded",
        header,
        (("Code", "code", "text", 22), ("Reason", "reason", "text", 30)),
        report.get("excluded", []),
    )
    about = book.add_worksheet("About")
    about.set_column(0, 0, 24)
    about.set_column(1, 1, 90)
    pairs: list[tuple[str, Any]] = [
        ("Calibration", str(run.get("id"))),
        ("Status", run.get("status")),
        ("Request", json.dumps(run.get("params"), sort_keys=True)),
        ("Finished attempts", report.get("attempts")),
        ("Persons calibrated", report.get("persons")),
        ("Responses", report.get("responses")),
        ("Converged", report.get("converged")),
        ("EM cycles", report.get("iterations")),
        ("Anchored items", report.get("anchored")),
        ("Estimated items (proposed)", report.get("estimated")),
        ("Fit rule", report.get("fit_rule")),
        ("Drift rule", report.get("drift_rule")),
        ("Unknown item codes", ", ".join(report.get("unknown", []))),
        (
            "Curves",
            "Solid: the new estimate (or the anchor); dashed: the stored parameters; dots: the "
            "proportion correct of the candidates in each ability bin of 0.5 (EAP under the new "
            "parameters; bins with fewer than 5 responses left out).",
        ),
    ]
    for r, (label, value) in enumerate(pairs):
        about.write_string(r, 0, label, header)
        _write(about, r, 1, _kind(value), value, {})
    book.close()
    return buf.getvalue()
