"""Workbooks print well (issue 14: "3 rows print on 9 pages with the chart split in two").

LibreOffice is not installed on the development machine, so the page setup is checked by
reading the workbook back: every sheet is A4, a data sheet landscape, one page wide and as tall as
it needs, its header row repeated on every page, a print area over the written cells; and the
placement summary's chart, measured from its drawing anchor, fits the printable width and
height of one A4 landscape page at 100 % next to the table, on a sheet set to print on one
page."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import httpx
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from etest.report.workbook import CHART_HEIGHT_PX, CHART_WIDTH_PX
from tests.report.conftest import Seed, download, seed  # noqa: F401

pytestmark = pytest.mark.asyncio

#: A4 in inches, and the pixels of an inch in a spreadsheet's drawing units (EMU / 9525 = px).
A4_LONG, A4_SHORT, DPI, EMU_PER_PX = 11.69, 8.27, 96, 9525
DEFAULT_COLUMN_PX, DEFAULT_ROW_PX = 64, 20


def fit(value: object) -> int:
    """A fitTo value as written (absent: the OOXML default, 1)."""
    return 1 if value is None else int(value)  # type: ignore[call-overload]


def column_px(width: float | None) -> float:
    """A column's width in pixels from its width in characters (Calibri 11: 7 px a
    character plus 5 px of padding, the upper bound Excel uses)."""
    return DEFAULT_COLUMN_PX if not width else width * 7 + 5


def width_of(ws: Any, col: int) -> float | None:
    """The width (characters) set for column ``col`` (0-based), None for the default."""
    found = ws.column_dimensions.get(get_column_letter(col + 1))  # .get: no new column
    return found.width if found is not None and found.customWidth else None


async def _book(client: httpx.AsyncClient, seed: Seed, name: str, **extra: str) -> bytes:  # noqa: F811
    resp = await download(client, seed.key["R"], name, uic=seed.uic["R"], **seed.range, **extra)
    assert resp.status_code == 200, resp.text
    return resp.content


def _data_sheet_prints_well(ws: object, landscape: bool = True, tall: int = 0) -> None:
    setup = ws.page_setup  # type: ignore[attr-defined]
    assert setup.paperSize == 9  # A4
    assert setup.orientation == ("landscape" if landscape else "portrait")
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True  # type: ignore[attr-defined]
    assert fit(setup.fitToWidth) == 1
    assert fit(setup.fitToHeight) == tall  # 0: as many pages tall as the rows need
    margins = ws.page_margins  # type: ignore[attr-defined]
    assert margins.left <= 0.5 and margins.right <= 0.5
    assert ws.print_options.gridLines is True  # type: ignore[attr-defined]
    assert "&P" in (ws.oddFooter.right.text or "")  # type: ignore[attr-defined]


async def test_every_sheet_of_every_report_is_set_up_for_a4(
    client: httpx.AsyncClient,
    seed: Seed,  # noqa: F811
) -> None:
    emails = seed.candidates["plain"]["email"]
    for name in ("placement", "responses", "ct-review", "ct-log", "cant-do", "item-stats"):
        extra = {"emails": emails} if name == "responses" else {}
        book = openpyxl.load_workbook(io.BytesIO(await _book(client, seed, name, **extra)))
        for ws in book.worksheets:
            if ws.title == "About":
                _data_sheet_prints_well(ws, landscape=False)
                assert ws.print_area == f"'About'!$A$1:$B${ws.max_row}", ws.print_area
                continue
            _data_sheet_prints_well(ws, tall=1 if ws.title == "Summary" else 0)
            assert ws.print_title_rows == "$1:$1", (name, ws.title, ws.print_title_rows)
            if ws.title == "Summary":
                continue
            last = get_column_letter(ws.max_column)
            rows = max(ws.max_row, 2)
            quoted = ws.title.replace("'", "''")
            assert ws.print_area == f"'{quoted}'!$A$1:${last}${rows}", ws.print_area


async def test_the_placement_chart_fits_one_printed_page(
    client: httpx.AsyncClient,
    seed: Seed,  # noqa: F811
) -> None:
    data = await _book(client, seed, "placement")
    book = openpyxl.load_workbook(io.BytesIO(data))
    summary = book["Summary"]
    setup = summary.page_setup
    assert setup.orientation == "landscape" and setup.paperSize == 9
    assert fit(setup.fitToWidth) == 1 and fit(setup.fitToHeight) == 1  # the sheet: one page

    # the chart's anchor as written in the drawing part
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = [n for n in z.namelist() if re.fullmatch(r"xl/drawings/drawing\d+\.xml", n)]
        assert len(names) == 1, names  # one chart in the book: the summary's
        drawing = z.read(names[0]).decode()
    anchors = re.findall(
        r"<xdr:(from|to)><xdr:col>(\d+)</xdr:col><xdr:colOff>(\d+)</xdr:colOff>"
        r"<xdr:row>(\d+)</xdr:row><xdr:rowOff>(\d+)</xdr:rowOff></xdr:\1>",
        drawing,
    )
    assert [a[0] for a in anchors] == ["from", "to"], drawing[:600]

    def x_px(col: int, offset: int) -> float:
        return sum(column_px(width_of(summary, c)) for c in range(col)) + offset / EMU_PER_PX

    def y_px(row: int, offset: int) -> float:
        return row * DEFAULT_ROW_PX + offset / EMU_PER_PX

    (_, c0, co0, r0, ro0), (_, c1, co1, r1, ro1) = ((a[0], *map(int, a[1:])) for a in anchors)
    left, top = x_px(c0, co0), y_px(r0, ro0)
    right, bottom = x_px(c1, co1), y_px(r1, ro1)
    width, height = right - left, bottom - top
    # the size XlsxWriter was asked for (default columns and rows are 64 and 20 px)
    assert (round(width), round(height)) == (CHART_WIDTH_PX, CHART_HEIGHT_PX)
    assert c0 >= 4  # beside the table (columns A to C), not over it
    margins = summary.page_margins
    printable_w = (A4_LONG - margins.left - margins.right) * DPI
    printable_h = (A4_SHORT - margins.top - margins.bottom) * DPI
    # the table beside it and the chart fit one page at 100 %: nothing is split or shrunk
    assert left + width <= printable_w, (left, width, printable_w)
    assert top + height <= printable_h, (top, height, printable_h)

    # and the print area holds the whole chart
    area = summary.print_area
    found = re.fullmatch(r"'Summary'!\$A\$1:\$([A-Z]+)\$(\d+)", area)
    assert found, area
    last_col = openpyxl.utils.column_index_from_string(found.group(1))
    right_px = sum(column_px(width_of(summary, c)) for c in range(last_col))
    assert right_px >= left + width
    assert int(found.group(2)) * DEFAULT_ROW_PX >= top + height
