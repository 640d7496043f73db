"""What the candidate's pages (``/take``, docs/take.md) say, read as a browser without
JavaScript would, for the page driver of bench/delivery_load.py (``PageCandidates``).

* :func:`start_form`: the start page's button (``POST /take/{id}/start`` with its ``csrf``).
* :func:`item_of`: the item page's answer form (templates/item.html): position, ``csrf``, the
  item type told by its controls, the option and target ids, and a fingerprint of what the
  page shows (prompt, stimulus and option texts, picture and recording addresses).
* :meth:`PageItem.form`: an answer in the API's shape as the form fields that
  ``etest.web.forms.parse_answer`` reads (``answer``, ``order-<n>``, ``match-<n>``).
* :func:`page_index`: the driver's keys, found by the API view's fingerprint
  (``delivery_load.fingerprint``), re-keyed by the page fingerprint, so the simulated candidate
  knows the key of the item on a page as it does through the API.

Texts are compared as text (tags dropped, whitespace collapsed) on both sides: the page
embeds the item's sanitised HTML, the database holds the same HTML. Parsed with lxml (a
dependency of eTest already; selectolax is not installed).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import lxml.html
from lxml.html import HtmlElement

K = TypeVar("K")


def document(html: bytes) -> HtmlElement:
    return lxml.html.document_fromstring(html)


def _words(text: str) -> str:
    return " ".join(text.split())


def text_of(html: str | None) -> str:
    """The text a stored HTML fragment shows."""
    if not html:
        return ""
    return _words(lxml.html.fragment_fromstring(html, create_parent="div").text_content())


def page_fingerprint(
    type_: str,
    prompt: str,
    stimulus: tuple[str, str | None, str | None],
    options: Iterable[tuple[str, str, str | None]],
) -> str:
    """An item as a page shows it: type, prompt text, stimulus (text, picture, recording) and
    options (id, text, picture), sorted by id (they are shuffled)."""
    return json.dumps([type_, prompt, list(stimulus), sorted(list(o) for o in options)])


def page_index(keys: Mapping[str, K]) -> dict[str, K]:
    """``keys`` by API fingerprint (the JSON list ``[type, prompt, stimulus text, picture,
    recording, sorted [id, text, picture, recording] per option]`` of
    ``delivery_load.fingerprint``) re-keyed by :func:`page_fingerprint`."""
    index: dict[str, K] = {}
    for fp, key in keys.items():
        type_, prompt, text, image, audio, options = json.loads(fp)
        index[
            page_fingerprint(
                type_,
                text_of(prompt),
                (text_of(text), image, audio),
                ((o[0], text_of(o[1]), o[2]) for o in options),
            )
        ] = key
    return index


def start_form(doc: HtmlElement) -> tuple[str, str] | None:
    """The start page's form: (action, csrf)."""
    for form in doc.iter("form"):
        action = form.get("action", "")
        if action.endswith("/start"):
            return action, _hidden(form, "csrf")
    return None


def _hidden(form: HtmlElement, name: str) -> str:
    for field in form.iter("input"):
        if field.get("name") == name:
            return str(field.get("value", ""))
    return ""


def _option_content(holder: HtmlElement | None) -> tuple[str, str | None]:
    """The text and picture of templates/_macros.html's option_content inside ``holder``."""
    if holder is None:
        return "", None
    text = picture = None
    for el in holder.iter("span", "img"):
        if el.tag == "span" and "option-text" in el.get("class", "").split() and text is None:
            text = _words(el.text_content())
        elif el.tag == "img" and "option-image" in el.get("class", "").split():
            picture = picture or el.get("src")
    return text or "", picture


def _select_values(select: HtmlElement) -> list[str]:
    return [v for v in (o.get("value", "") for o in select.iter("option")) if v]


@dataclass
class PageItem:
    """The item on an item page, with what its form needs."""

    action: str
    position: str
    csrf: str
    type: str
    fingerprint: str
    options: list[str]  # option ids in the page's order
    targets: list[str]  # target ids (matching), in the page's order

    def form(self, answer: Any) -> list[tuple[str, str]]:
        """``answer`` (the API's shape) as the fields the page posts."""
        fields = [("csrf", self.csrf), ("position", self.position)]
        if self.type == "multiple_choice":
            return fields + [("answer", a) for a in answer]
        if self.type in ("single_choice", "text_entry"):
            return [*fields, ("answer", answer)]
        if self.type == "ordering":
            return fields + [(f"order-{n}", o) for n, o in enumerate(answer, start=1)]
        place = {o: n for n, o in enumerate(self.options, start=1)}  # matching
        return fields + [(f"match-{place[o]}", t) for o, t in answer if o in place]


def item_of(doc: HtmlElement) -> PageItem | None:
    """The item page's answer form; None on any other page (a result, a thank-you)."""
    form = next((f for f in doc.iter("form") if "answer-form" in f.get("class", "")), None)
    if form is None:
        return None
    options: list[tuple[str, str, str | None]] = []
    targets: list[str] = []
    type_ = ""
    selects = list(form.iter("select"))
    if selects and selects[0].get("name", "").startswith("order-"):
        type_ = "ordering"
        ids = _select_values(selects[0])
        parts = form.find_class("parts")
        items = list(parts[0].iterchildren("li")) if parts else []
        for n, option_id in enumerate(ids):
            options.append((option_id, *_option_content(items[n] if n < len(items) else None)))
    elif selects:
        type_ = "matching"
        labels = {label.get("for"): label for label in form.iter("label")}
        for select in selects:
            options.append(
                (select.get("data-option", ""), *_option_content(labels.get(select.get("id"))))
            )
        targets = _select_values(selects[0])
    else:
        for field in form.iter("input"):
            if field.get("name") != "answer":
                continue
            kind = field.get("type")
            if kind == "text":
                type_ = "text_entry"
                break
            type_ = "single_choice" if kind == "radio" else "multiple_choice"
            options.append((field.get("value", ""), *_option_content(field.getparent())))
    stimulus: tuple[str, str | None, str | None] = ("", None, None)
    for box in doc.find_class("stimulus"):
        texts = box.find_class("stimulus-text")
        pictures = box.find_class("stimulus-image")
        recording = next(box.iter("source"), None)
        stimulus = (
            _words(texts[0].text_content()) if texts else "",
            pictures[0].get("src") if pictures else None,
            recording.get("src") if recording is not None else None,
        )
    prompt = doc.get_element_by_id("prompt", None)
    return PageItem(
        action=form.get("action", ""),
        position=_hidden(form, "position"),
        csrf=_hidden(form, "csrf"),
        type=type_,
        fingerprint=page_fingerprint(
            type_, _words(prompt.text_content()) if prompt is not None else "", stimulus, options
        ),
        options=[o[0] for o in options],
        targets=targets,
    )
