"""The item bank's pages for cloze, gap_match and hottext: the item's page (the body, the gaps,
the key per gap) and the preview, drawn by ``/take``'s own partials, whose "try an answer"
reports the gaps right."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.attempt.conftest import make_course
from tests.attempt.test_gap_items_api import gap_flows
from tests.conftest import Headers
from tests.console.conftest import ConsoleClient, make_staff
from tests.console.test_bank import item_id
from tests.support.flows import import_flows

pytestmark = pytest.mark.asyncio


async def test_gap_items_in_the_bank_and_their_preview(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    course = await make_course(app, client, su)
    await import_flows(client, su, *gap_flows(course))
    await console.sign_in(await make_staff(app, "content_manager", None))
    cloze = await item_id(app, f"{course.tag}-cloze")

    page = await console.get(f"/console/bank/items/{cloze}")
    assert page.status_code == 200
    assert "Yesterday I [[g1]] to school" in page.text
    assert "Key: gap g1</dt>\n  <dd>went (casefold_punctuation)</dd>" in page.text
    assert "Key: gap g2</dt>\n  <dd>met</dd>" in page.text
    assert "choose from meet (meet), met (met), meeting (meeting)" in page.text

    preview = await console.get(f"/console/bank/items/{cloze}/preview")
    assert preview.status_code == 200
    assert 'aria-label="Gap 1"' in preview.text and 'name="gap-g2"' in preview.text
    assert "went" not in preview.text.split("<main")[1].split("</form>")[0]
    tried = await console.post(
        f"/console/bank/items/{cloze}/preview", {"gap-g1": "went", "gap-g2": "meet"}
    )
    assert "Preview: 1 of 3 gaps right, 1 of 3 points (nothing was saved)." in tried.text
    empty = await console.post(f"/console/bank/items/{cloze}/preview", {"gap-g1": " "})
    assert empty.status_code == 422 and "Fill in at least one gap." in empty.text

    gap_match = await item_id(app, f"{course.tag}-gapmatch")
    shown = await console.get(f"/console/bank/items/{gap_match}")
    assert "(fits any number of gaps)</li>" in shown.text and "typed" not in shown.text
    both = await console.post(
        f"/console/bank/items/{gap_match}/preview", {"gap-p1": "while", "gap-p2": "on"}
    )
    assert "Preview: 2 of 2 gaps right" in both.text
    overused = await console.post(
        f"/console/bank/items/{gap_match}/preview", {"gap-p1": "on", "gap-p2": "on"}
    )
    assert overused.status_code == 422
    # the refused form keeps what was given
    assert overused.text.count('<option value="on" selected>') == 2

    hottext = await item_id(app, f"{course.tag}-hottext")
    right = await console.post(f"/console/bank/items/{hottext}/preview", {"answer": "w2"})
    assert "this answer is correct" in right.text
    wrong = await console.post(f"/console/bank/items/{hottext}/preview", {"answer": "w1"})
    assert "this answer is not correct" in wrong.text
    two = await console.post(f"/console/bank/items/{hottext}/preview", {"answer": ["w1", "w2"]})
    assert two.status_code == 422 and "Choose one part of the text." in two.text

    # a hottext whose key names several pieces: checkboxes, every right piece for full credit
    many = await item_id(app, f"{course.tag}-hottext-many")
    shown = await console.get(f"/console/bank/items/{many}/preview")
    assert shown.text.count('type="checkbox" name="answer"') == 3
    assert "Choose every right part of the text" in shown.text
    both = await console.post(f"/console/bank/items/{many}/preview", {"answer": ["x3", "x1"]})
    assert "this answer is correct" in both.text
    one = await console.post(f"/console/bank/items/{many}/preview", {"answer": "x1"})
    assert "this answer is not correct" in one.text
    none = await console.post(f"/console/bank/items/{many}/preview", {})
    assert none.status_code == 422 and "Choose at least one part of the text." in none.text
