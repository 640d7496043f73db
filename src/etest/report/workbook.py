"""The one spreadsheet writer every report uses: typed columns, safe text, constant memory.

XlsxWriter runs in ``constant_memory`` mode: each row is flushed to a temporary file as soon as
the next one starts, so a report of a million rows needs no more memory than one of ten. The
price is that rows of a sheet must be written in order, which streaming gives for free.

Text is always written with ``write_string`` (never parsed as a formula, number or URL) and a
value that a spreadsheet would read as a formula once re-typed or exported to CSV (``= + - @``,
tab, CR) is prefixed with ``'``. Numbers stay numbers; times are real Excel dates (UTC).

Every sheet prints well (:func:`print_setup`): A4, a data sheet landscape and one page wide
(as many pages tall as it needs) with its header row repeated on every page, printed gridlines,
the sheet's name and page numbers in the header and footer, and a print area over the written
cells. A chart is sized to fit one printed page at 100 % (``CHART_WIDTH_PX`` by
``CHART_HEIGHT_PX`` next to a narrow table), and its sheet is set to print on one page.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import xlsxwriter  # type: ignore[import-untyped]

Kind = Literal["text", "lines", "int", "float", "percent", "date", "datetime", "bool", "json"]

#: A string beginning with one of these is a formula to some spreadsheet (or a CSV reader).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limit on the characters of one cell.
MAX_CELL_CHARS = 32_767
_FORMATS: dict[Kind, dict[str, Any]] = {
    "text": {},
    "lines": {"text_wrap": True, "valign": "top"},
    "json": {},
    "int": {"num_format": "0"},
    "float": {"num_format": "0.000"},
    "percent": {"num_format": "0.0%"},
    "date": {"num_format": "yyyy-mm-dd"},
    "datetime": {"num_format": "yyyy-mm-dd hh:mm:ss"},
    "bool": {},
}


#: XlsxWriter's number for A4 paper.
PAPER_A4 = 9
#: Margins in inches: narrow sides (more columns per page), room for header and footer.
MARGIN_SIDE, MARGIN_TOP, MARGIN_BOTTOM, MARGIN_HEADER = 0.4, 0.75, 0.6, 0.3
#: A chart's size in pixels (96 per inch): with the summary table beside it, it fits the
#: printable width of A4 landscape ((11.69 - 2 * 0.4) in = 1045 px) and height
#: ((8.27 - 0.75 - 0.6) in = 664 px) at 100 %.
CHART_WIDTH_PX, CHART_HEIGHT_PX = 640, 400


def print_setup(ws: Any, *, landscape: bool = True, pages_tall: int = 0) -> None:
    """Print ``ws`` on A4, one page wide and ``pages_tall`` pages tall (0: as many as it needs),
    with gridlines, the sheet's name on top and page numbers below."""
    ws.set_paper(PAPER_A4)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.fit_to_pages(1, pages_tall)
    ws.set_margins(left=MARGIN_SIDE, right=MARGIN_SIDE, top=MARGIN_TOP, bottom=MARGIN_BOTTOM)
    ws.hide_gridlines(0)  # shown on screen and printed: rows of a wide table are easy to follow
    ws.set_header("&L&A", {"margin": MARGIN_HEADER})
    ws.set_footer("&LeTest&RPage &P of &N", {"margin": MARGIN_HEADER})


def safe_text(value: str) -> str:
    """``value`` as text no spreadsheet will evaluate: a leading formula character gets ``'``."""
    if value.startswith(FORMULA_TRIGGERS):
        value = "'" + value
    return value[:MAX_CELL_CHARS]


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "text"
    width: float = 14


class Sheet:
    """One worksheet: a bold header row, frozen, filtered, then rows appended in order."""

    def __init__(self, book: Book, name: str, columns: Sequence[Column]) -> None:
        self.book, self.name, self.columns = book, name, tuple(columns)
        self.rows = 0
        #: set by a free-form sheet (a summary with a chart) that sets its own print area
        self.fixed_print_area = False
        self._ws = book.workbook.add_worksheet(name)
        for n, column in enumerate(self.columns):
            self._ws.set_column(n, n, column.width)
            self._ws.write_string(0, n, column.header, book.header_format)
        self._ws.freeze_panes(1, 0)
        print_setup(self._ws)
        self._ws.repeat_rows(0)  # the header row on every printed page
        # resolved once per sheet: the per-cell path is the hot loop of a large report
        self._writers = [(_WRITERS[c.kind], book.formats[c.kind]) for c in self.columns]

    def append(self, values: Sequence[Any]) -> None:
        self.rows += 1
        row, ws = self.rows, self._ws
        for n, ((write, fmt), value) in enumerate(zip(self._writers, values, strict=True)):
            if value is not None:
                write(ws, row, n, value, fmt)

    def extend(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.append(row)

    def finish(self) -> None:
        """The filter buttons and the print area over the written rows (the range is known only
        at the end)."""
        self._ws.autofilter(0, 0, max(self.rows, 1), len(self.columns) - 1)
        if not self.fixed_print_area:
            self._ws.print_area(0, 0, max(self.rows, 1), len(self.columns) - 1)

    @property
    def worksheet(self) -> Any:
        """The XlsxWriter worksheet, for free-form sheets (a summary and its chart)."""
        return self._ws


class Book:
    """A workbook being written to ``path``. ``progress`` is told the rows written so far."""

    def __init__(self, path: Path, progress: Callable[[int], None] | None = None) -> None:
        self.workbook = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "remove_timezone": True,
                # write_string is used for all text anyway; these guard any other path
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self.header_format = self.workbook.add_format(
            {"bold": True, "bg_color": "#DDE4EE", "bottom": 1}
        )
        self.bold = self.workbook.add_format({"bold": True})
        self.formats = {
            kind: self.workbook.add_format(spec) if spec else None
            for kind, spec in _FORMATS.items()
        }
        self.sheets: list[Sheet] = []
        self._counted: list[Sheet] = []
        self._progress = progress

    def sheet(self, name: str, columns: Sequence[Column], *, counted: bool = True) -> Sheet:
        """A new data sheet; ``counted`` False for a derived one (a summary), whose rows are
        not data rows of the report."""
        sheet = Sheet(self, name, columns)
        self.sheets.append(sheet)
        if counted:
            self._counted.append(sheet)
        return sheet

    @property
    def rows(self) -> int:
        """Data rows written so far (headers and derived sheets excluded)."""
        return sum(s.rows for s in self._counted)

    def report_progress(self) -> None:
        if self._progress is not None:
            self._progress(self.rows)

    def write_cell(self, ws: Any, row: int, col: int, kind: Kind, value: Any) -> None:
        """Write one typed value; ``None`` (and a non-finite number) leaves the cell empty."""
        if value is not None:
            _WRITERS[kind](ws, row, col, value, self.formats[kind])

    def key_values(self, name: str, pairs: Sequence[tuple[str, Any]]) -> None:
        """A two-column sheet of labels and typed values (not a data table: no header)."""
        ws = self.workbook.add_worksheet(name)
        ws.set_column(0, 0, 26)
        ws.set_column(1, 1, 60)
        print_setup(ws, landscape=False)
        ws.print_area(0, 0, max(len(pairs) - 1, 0), 1)
        for n, (label, value) in enumerate(pairs):
            ws.write_string(n, 0, label, self.bold)
            kind: Kind = (
                "datetime"
                if isinstance(value, datetime)
                else "date"
                if isinstance(value, date)
                else "int"
                if isinstance(value, int | float)
                else "text"
            )
            self.write_cell(ws, n, 1, kind, value)

    def close(self) -> None:
        for sheet in self.sheets:
            sheet.finish()
        self.workbook.close()


def _text(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    ws.write_string(row, col, safe_text(str(value)), fmt)


def _lines(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    if value:  # one entry per line of a wrapped cell
        ws.write_string(row, col, safe_text("\n".join(map(str, value))), fmt)


def _json(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )
    ws.write_string(row, col, safe_text(text), fmt)


def _number(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    number = float(value) if isinstance(value, Decimal) else value
    if isinstance(number, int | float) and math.isfinite(number):
        ws.write_number(row, col, number, fmt)


def _bool(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    ws.write_boolean(row, col, bool(value), fmt)


def _datetime(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    ws.write_datetime(row, col, _naive_utc(value), fmt)


def _date(ws: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    day = value.date() if isinstance(value, datetime) else value
    ws.write_datetime(row, col, datetime.combine(day, time()), fmt)


_WRITERS: dict[Kind, Callable[[Any, int, int, Any, Any], None]] = {
    "text": _text,
    "lines": _lines,
    "json": _json,
    "int": _number,
    "float": _number,
    "percent": _number,
    "bool": _bool,
    "datetime": _datetime,
    "date": _date,
}


def _naive_utc(value: datetime | date) -> datetime:
    # Excel has no time zones: every time of a report is UTC (the column headers say so).
    if not isinstance(value, datetime):
        return datetime.combine(value, time())
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value
