"""Issue 15: no picture of the demo bank gives its answer away. An image's alt text (the
stimulus's or an option's) must not contain the text of a keyed option: compared as whole words,
case-insensitive, with punctuation and the articles a/an/the left out (so "a cat sitting under a
table" gives away "under the table"). Picture options whose own text is empty are the options
themselves and are compared with the keyed *texts* only, like every other image."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[2] / "src" / "etest" / "data" / "demo"
ARTICLES = {"a", "an", "the"}


def words(text: str) -> str:
    """Lower case, words only, articles dropped, joined by single spaces and padded."""
    found = [w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in ARTICLES]
    return " " + " ".join(found) + " "


def images(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if isinstance(node.get("alt"), str):
            yield node
        for value in node.values():
            yield from images(value)
    elif isinstance(node, list):
        for value in node:
            yield from images(value)


def giveaways(item: dict[str, Any]) -> list[str]:
    correct = set((item.get("key") or {}).get("correct") or [])
    keyed = [
        o["text"]
        for o in item.get("options") or []
        if o.get("id") in correct and isinstance(o.get("text"), str) and words(o["text"]).strip()
    ]
    return [
        f"{item.get('code')}: alt {image['alt']!r} names the answer {text!r}"
        for image in images(item)
        for text in keyed
        if words(text) in words(image["alt"])
    ]


def demo_items() -> Iterator[dict[str, Any]]:
    for path in sorted(DEMO.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            yield from data.get("items") or []


def test_demo_has_images_with_alt_text() -> None:
    assert sum(1 for item in demo_items() for _ in images(item)) > 10


def test_no_demo_alt_text_names_the_keyed_answer() -> None:
    problems = [p for item in demo_items() for p in giveaways(item)]
    assert problems == []


def test_check_catches_a_giveaway() -> None:
    item = {
        "code": "x",
        "stimulus": {"image": {"src": "m.svg", "alt": "A cat sitting UNDER a table."}},
        "options": [{"id": "a", "text": "on the table"}, {"id": "b", "text": "under the table"}],
        "key": {"correct": ["b"]},
    }
    assert giveaways(item) == [
        "x: alt 'A cat sitting UNDER a table.' names the answer 'under the table'"
    ]
    item["key"] = {"correct": ["a"]}
    assert giveaways(item) == []  # a wrong option's words may appear


def test_whole_words_only() -> None:
    item = {
        "code": "y",
        "stimulus": {"image": {"src": "m.svg", "alt": "a carton of milk"}},
        "options": [{"id": "a", "text": "car"}],
        "key": {"correct": ["a"]},
    }
    assert giveaways(item) == []
