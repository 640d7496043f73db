"""The shipped demo bank and flows (``src/etest/data/demo``, described in docs/demo-bank.md):
every file is valid ``etest-flow/1``, the bank covers every level and skill with sound keys, IRT
difficulties inside their level bands, committed media that is small and safe, and flows whose
codes and item references match the reference data. Runs without espeak-ng: the media are
committed files. Each check is a function returning problems, and the ``*_catches_*`` tests
feed it a broken copy to show that it can fail."""

from __future__ import annotations

import asyncio
import copy
import importlib.machinery
import importlib.util
import itertools
import json
import math
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from etest.attempt.scoring import check, normalize, score
from etest.content.media import MediaStore, media_problem
from etest.content.schemas import FlowFile
from etest.kit.levels import LEVELS

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "src" / "etest" / "data" / "demo"
REFERENCE = DEMO.parent / "reference.json"
SKILLS = ("listening", "reading", "grammar", "vocabulary")
CUTS = [-2.25, -1.75, -1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1.75, 2.25]
#: Allowed b per level: the open band between cut scores; the outer levels get a finite range.
BANDS = {
    "Pre A1": (-3.0, -2.3),
    **{LEVELS[i]: (CUTS[i - 1], CUTS[i]) for i in range(1, 10)},
    "C1-Bridge": (2.3, 3.0),
}
MIN_PER_CELL = dict.fromkeys(LEVELS, 6) | {"C1-Bridge": 4}
MAX_AUDIO_BYTES = 25_000
MAX_TOTAL_AUDIO_BYTES = 3_000_000

#: scripts/build_demo_media (stdlib only): its SVG rules and its audio fingerprints are used here,
#: so CI checks the committed media with the maintainers' own code, without espeak-ng.
_loader = importlib.machinery.SourceFileLoader(
    "build_demo_media", str(ROOT / "scripts" / "build_demo_media")
)
BUILDER = importlib.util.module_from_spec(importlib.util.spec_from_loader(_loader.name, _loader))
_loader.exec_module(BUILDER)
#: scripts/demo_bank_params.py: the formula that sets every item's IRT parameters.
_params_loader = importlib.machinery.SourceFileLoader(
    "demo_bank_params", str(ROOT / "scripts" / "demo_bank_params.py")
)
PARAMS = importlib.util.module_from_spec(
    importlib.util.spec_from_loader(_params_loader.name, _params_loader)
)
_params_loader.exec_module(PARAMS)

Item = dict[str, Any]
Flow = dict[str, Any]


def load(name: str) -> Flow:
    data: Flow = json.loads((DEMO / name).read_text(encoding="utf-8"))
    return data


def index_files() -> list[str]:
    files: list[str] = load("index.json")["files"]
    return files


FILES = index_files()
FLOWS = {name: load(name) for name in FILES}
BANKS = [f for f in FLOWS.values() if f["kind"] == "bank"]
ITEMS: list[Item] = [item for bank in BANKS for item in bank["items"]]
BY_CODE = {item["code"]: item for item in ITEMS}
CAN_DO = {cd["code"]: cd for bank in BANKS for cd in bank["can_do"]}
LESSONS = {rl["code"]: rl for bank in BANKS for rl in bank["review_lessons"]}
PLANS = {p["code"]: p for p in json.loads(REFERENCE.read_text())["plans"]}


def media_refs(item: Item) -> list[tuple[str, dict[str, Any]]]:
    """(kind, ref) for every image and audio of an item: stimulus, options and targets."""
    holders = [item.get("stimulus") or {}, *item.get("options", []), *item.get("targets", [])]
    return [(kind, h[kind]) for h in holders for kind in ("image", "audio") if h.get(kind)]


# ---------------------------------------------------------------- checks (each returns problems)


def coverage_problems(items: list[Item]) -> list[str]:
    cells = Counter((i["level"], i["skill"]) for i in items)
    problems = [
        f"{level} {skill}: {cells[level, skill]} items, want {MIN_PER_CELL[level]}"
        for level in LEVELS
        for skill in SKILLS
        if cells[level, skill] < MIN_PER_CELL[level]
    ]
    if len(items) < 250:
        problems.append(f"{len(items)} items, want at least 250")
    return problems


def can_do_problems(
    items: list[Item], can_do: dict[str, Any], lessons: dict[str, Any]
) -> list[str]:
    problems = []
    for level in LEVELS:
        for skill in SKILLS:
            found = [c for c in can_do.values() if c["level"] == level and c["skill"] == skill]
            if not found:
                problems.append(f"no can-do statement for {level} {skill}")
    for c in can_do.values():
        if not c["text"].startswith("Can ") or not c["cannot_text"].startswith("Cannot yet "):
            problems.append(f"{c['code']}: wording {c['text']!r} / {c['cannot_text']!r}")
    for item in items:
        cd = can_do.get(item.get("can_do") or "")
        if cd is None:
            problems.append(f"{item['code']}: can_do {item.get('can_do')!r} does not exist")
        elif (cd["level"], cd["skill"]) != (item["level"], item["skill"]):
            problems.append(f"{item['code']}: can_do {cd['code']} is for another level/skill")
        for code in item.get("review_lessons", []):
            if code not in lessons:
                problems.append(f"{item['code']}: review lesson {code!r} does not exist")
    return problems


def blind_guess(item: Item) -> float | None:
    """The chance of guessing a choice item right without reading it; None for other types."""
    options = len(item.get("options", []))
    if item["type"] == "single_choice":
        return 1 / options
    if item["type"] in ("multiple_choice", "hottext"):
        return 1 / math.comb(options, len(item["key"]["correct"]))
    return None


def gpcm_problems(item: Item) -> list[str]:
    """An item scored a point a gap: the GPCM with one step a gap, around its level's band, b
    their mean (the flow format's rule)."""
    irt, code = item.get("irt") or {}, item["code"]
    found = irt.get("steps") or []
    if irt.get("model") != "GPCM" or irt.get("c") or len(found) != len(item["gaps"]):
        return [f"{code}: wants GPCM with one step a gap, has {irt}"]
    if abs(irt.get("b", math.inf) - statistics.mean(found)) > 1e-5:
        return [f"{code}: b={irt.get('b')} is not the mean of its steps {found}"]
    lo, hi = BANDS[item["level"]]
    if min(found) < lo - (hi - lo) or max(found) > hi + (hi - lo):
        return [f"{code}: steps {found} stray far from the {item['level']} band {lo}..{hi}"]
    return []


def irt_problems(items: list[Item]) -> list[str]:
    problems = []
    for item in items:
        irt = item.get("irt") or {}
        lo, hi = BANDS[item["level"]]
        b, a, c = irt.get("b"), irt.get("a"), irt.get("c")
        guess = blind_guess(item)
        if item["type"] in ("cloze", "gap_match"):
            gpcm = gpcm_problems(item)
            if gpcm:
                problems.extend(gpcm)
                continue
        elif guess is None and (irt.get("model") != "2PL" or c):
            problems.append(f"{item['code']}: wants 2PL parameters, has {irt}")
            continue
        if guess is not None and (
            irt.get("model") != "3PL" or not c or not 0 < c <= round(guess, 3)
        ):
            problems.append(f"{item['code']}: wants 3PL with 0 < c <= {guess:.3g}, has {irt}")
            continue
        if a is None or b is None:
            problems.append(f"{item['code']}: wants a and b, has {irt}")
            continue
        outer = item["level"] in ("Pre A1", "C1-Bridge")
        inside = lo <= b <= hi if outer else lo < b < hi
        if not inside:
            problems.append(f"{item['code']}: b={b} outside the {item['level']} band {lo}..{hi}")
        if not 0.8 <= a <= 1.6:
            problems.append(f"{item['code']}: a={a} outside 0.8..1.6")
    a_values = [i["irt"]["a"] for i in items if i.get("irt", {}).get("a") is not None]
    if a_values and not 1.0 <= statistics.mean(a_values) <= 1.2:
        problems.append(f"mean a {statistics.mean(a_values):.3f} is not near 1.1")
    by_level: dict[str, list[float]] = defaultdict(list)
    for item in items:
        if item.get("irt", {}).get("b") is not None:
            by_level[item["level"]].append(item["irt"]["b"])
    means = [statistics.mean(by_level[lv]) for lv in LEVELS if by_level[lv]]
    if any(later <= earlier for earlier, later in itertools.pairwise(means)):
        problems.append(f"mean b is not strictly increasing over levels: {means}")
    for level, values in by_level.items():
        lo, hi = BANDS[level]
        if max(values) - min(values) < 0.5 * (hi - lo):
            problems.append(
                f"{level}: b values bunch in {min(values)}..{max(values)}; "
                "spread them across the band"
            )
    return problems


def media_problems(items: list[Item], root: Path) -> list[str]:
    problems = []
    total_audio = 0
    for item in items:
        stim = item.get("stimulus") or {}
        if item["skill"] == "listening":
            if not stim.get("audio") or not (stim.get("transcript") or "").strip():
                problems.append(f"{item['code']}: a listening item needs audio and a transcript")
        elif stim.get("audio"):
            problems.append(f"{item['code']}: audio on a {item['skill']} item")
        for kind, ref in media_refs(item):
            path = root / ref["src"]
            if not path.is_file() or path.stat().st_size == 0:
                problems.append(f"{item['code']}: {ref['src']} is missing or empty")
                continue
            data = path.read_bytes()
            why = media_problem(ref["src"], data)
            if why:
                problems.append(f"{item['code']}: {ref['src']}: {why}")
            if kind == "audio":
                total_audio += len(data)
                if not (
                    ref["src"].endswith(".opus")
                    and data[:4] == b"OggS"
                    and b"OpusHead" in data[:100]
                ):
                    problems.append(f"{item['code']}: {ref['src']} is not Ogg Opus")
                if len(data) >= MAX_AUDIO_BYTES:
                    problems.append(f"{item['code']}: {ref['src']} is {len(data)} bytes")
            else:
                if not (ref.get("alt") or "").strip():
                    problems.append(f"{item['code']}: image {ref['src']} has no alt text")
                problems.extend(
                    f"{item['code']}: {ref['src']} {p}" for p in BUILDER.check_svg(path)
                )
    if total_audio > MAX_TOTAL_AUDIO_BYTES:
        problems.append(f"audio totals {total_audio} bytes")
    return problems


def key_problems(items: list[Item]) -> list[str]:
    """What the schema cannot see: keys that fit the prompt and answers not given away."""
    problems = []
    numbers = {"TWO": 2, "THREE": 3}
    for item in items:
        code, key = item["code"], item["key"]
        texts = {o["id"]: (o.get("text") or "") for o in item.get("options", [])}
        if item["type"] == "multiple_choice":
            said = [n for word, n in numbers.items() if word in item["prompt"]]
            if said != [len(key["correct"])]:
                problems.append(
                    f"{code}: the prompt must say how many to choose ({len(key['correct'])})"
                )
        if item["type"] == "single_choice":
            answer = texts[key["correct"][0]].strip().lower()
            if answer and item["skill"] == "listening" and answer in item["prompt"].lower():
                problems.append(f"{code}: the prompt gives the answer away")
        if item["type"] == "text_entry":
            rule = key.get("normalize", "casefold_punctuation")
            seen = [normalize(a, rule) for a in key["accepted"]]
            if len(set(seen)) != len(seen) or "" in seen:
                problems.append(f"{code}: accepted answers repeat or vanish after normalising")
        if item["type"] == "ordering" and key["order"] == [o["id"] for o in item["options"]]:
            problems.append(f"{code}: the pieces are stored in the answer's order")
        if item["type"] == "matching" and len(key["pairs"]) != len(item["options"]):
            problems.append(f"{code}: every left-hand option needs a pair")
    return problems


def flow_problems(flows: list[Flow], items: dict[str, Item]) -> list[str]:
    problems = []
    for flow in flows:
        if flow["kind"] == "bank":
            continue
        plan = PLANS.get(flow["plan"])
        if plan is None:
            problems.append(f"{flow['code']}: unknown plan {flow['plan']}")
            continue
        plan_levels = [lv["level"] for lv in plan["levels"]]
        engine = flow["engine"]
        if flow["kind"] == "PT":
            codes = [c for g in engine.get("groups", []) for c in g["items"]]
            if engine["type"] == "irt":
                if engine["cut_scores"] != CUTS[: len(plan_levels) - 1]:
                    problems.append(f"{flow['code']}: cut scores {engine['cut_scores']}")
                if engine["pool_levels"] != plan_levels:
                    problems.append(f"{flow['code']}: pool_levels are not the plan's levels")
                if len(set((engine.get("skill_targets") or {}).values())) != 1:
                    problems.append(f"{flow['code']}: skill shares are not equal")
            else:
                levels = [g["level"] for g in engine["groups"] if g["role"] == "core"]
                if levels != plan_levels:
                    problems.append(f"{flow['code']}: core groups {levels}, plan {plan_levels}")
                if len(codes) != len(set(codes)):
                    problems.append(f"{flow['code']}: an item is in two groups")
                for g in engine["groups"]:
                    wrong = [
                        c for c in g["items"] if c in items and items[c]["level"] != g["level"]
                    ]
                    if wrong:
                        problems.append(f"{flow['code']}: {g['level']} group holds {wrong}")
                    if (
                        g["role"] == "core"
                        and len({items[c]["skill"] for c in g["items"] if c in items}) < 3
                    ):
                        problems.append(f"{flow['code']}: {g['level']} core group is one-skill")
        else:
            wanted = {lv["level"]: lv["ct_assessment"] for lv in plan["levels"]}
            if wanted.get(flow["level"]) != flow["code"]:
                problems.append(f"{flow['code']}: the plan names {wanted.get(flow['level'])}")
            codes = [c for s in engine["sections"] for c in s["pool"]]
            if sorted(s["skill"] for s in engine["sections"]) != sorted(SKILLS):
                problems.append(f"{flow['code']}: wants one section per skill")
            for s in engine["sections"]:
                off = [
                    c
                    for c in s["pool"]
                    if c in items
                    and (items[c]["level"], items[c]["skill"]) != (flow["level"], s["skill"])
                ]
                if off:
                    problems.append(f"{flow['code']}: {s['skill']} pool holds {off}")
                if len(set(s["pool"])) < s["count"] + 1:
                    problems.append(f"{flow['code']}: {s['skill']} pool leaves no choice")
        problems.extend(f"{flow['code']}: unknown item {c}" for c in codes if c not in items)
    return problems


# ------------------------------------------------------------------------------- the real data


def test_index_lists_every_file_banks_first() -> None:
    on_disk = sorted(p.name for p in DEMO.glob("*.json") if p.name != "index.json")
    assert sorted(FILES) == on_disk
    kinds = [FLOWS[f]["kind"] for f in FILES]
    assert kinds == sorted(kinds, key=lambda k: k != "bank")
    assert not list(DEMO.rglob("*.xml")) and not list(DEMO.rglob("*.zip"))


@pytest.mark.parametrize("name", FILES)
def test_file_is_a_valid_flow(name: str) -> None:
    flow = FlowFile.model_validate(FLOWS[name])
    assert flow.code == Path(name).stem or flow.kind == "bank"


def test_codes_are_unique_across_the_bank() -> None:
    for codes in (
        [i["code"] for i in ITEMS],
        [c["code"] for b in BANKS for c in b["can_do"]],
        [r["code"] for b in BANKS for r in b["review_lessons"]],
        [f["code"] for f in FLOWS.values()],
    ):
        assert [c for c, n in Counter(codes).items() if n > 1] == []


def test_every_level_and_skill_is_covered() -> None:
    assert coverage_problems(ITEMS) == []
    types = Counter(i["type"] for i in ITEMS)
    assert types["single_choice"] > len(ITEMS) / 2
    for kind in ("multiple_choice", "text_entry", "ordering", "matching"):
        assert types[kind] >= 5, types


def test_can_do_statements_and_review_lessons() -> None:
    assert can_do_problems(ITEMS, CAN_DO, LESSONS) == []
    for lesson in LESSONS.values():
        assert lesson["url"].startswith("https://learn.example.org/")
        assert lesson["level"] in LEVELS and lesson["skill"] in SKILLS
    assert sum(1 for i in ITEMS if i.get("review_lessons")) >= len(ITEMS) / 2


def test_irt_parameters_sit_in_their_level_bands() -> None:
    assert irt_problems(ITEMS) == []


def test_irt_parameters_are_the_scripts() -> None:
    """Every item's parameters are what scripts/demo_bank_params.py gives: rerunning it would
    change nothing (docs/demo-bank.md)."""
    assert PARAMS.main(["--check"]) == 0


def test_media_exist_and_are_small_and_safe() -> None:
    assert media_problems(ITEMS, DEMO) == []
    with_images = [i for i in ITEMS if any(k == "image" for k, _ in media_refs(i))]
    assert len(with_images) >= 12
    referenced = {(DEMO / ref["src"]).resolve() for i in ITEMS for _, ref in media_refs(i)}
    on_disk = {p.resolve() for p in (DEMO / "media").rglob("*") if p.is_file()}
    assert on_disk - mp3_siblings(referenced) == referenced, "unused or missing media files"


def mp3_siblings(files: set[Path]) -> set[Path]:
    """The MP3 beside an Ogg recording (``x.mp3`` beside ``x.opus``, by scripts/build_demo_mp3):
    its alternative for browsers without Opus, stored with it on import."""
    found = {f.with_suffix(".mp3") for f in files if f.suffix == ".opus"}
    return {f for f in found if f.is_file()}


def stale_audio(items: list[Item], root: Path) -> list[str]:
    """Listening items whose committed audio was not built from their current transcript."""
    stale = []
    for item in items:
        stim = item.get("stimulus") or {}
        if not stim.get("audio"):
            continue
        path = root / stim["audio"]["src"]
        tags = BUILDER.opus_tags(path.read_bytes()) if path.is_file() else {}
        digest = BUILDER.source_hash(BUILDER.voice_plan(item))
        if tags.get("ETEST_SOURCE") != digest:
            stale.append(item["code"])
    return stale


def test_committed_audio_was_built_from_the_transcripts() -> None:
    assert stale_audio(ITEMS, DEMO) == []
    assert BUILDER.main(["--check"]) == 0


def test_keys_fit_their_prompts() -> None:
    assert key_problems(ITEMS) == []


#: What candidates plausibly type, right and wrong, for the text-entry items.
TYPED = {
    "demo-prea1-g06": (["is", "Is", " is. "], ["are", "am"]),
    "demo-prea1-v06": (["four", "Four."], ["for", "4", "fore"]),
    "demo-a1-l05": (["Rosa", "rosa", "ROSA."], ["Rose", "Roza"]),
    "demo-a1-g06": (["does", "Does"], ["do", "is"]),
    "demo-a1plus-l03": (["9", "nine", "Platform 9", "platform nine."], ["5", "19", "ninety"]),
    "demo-a1plus-g06": (["bought"], ["buyed", "brought", "buy"]),
    "demo-a1plus-v06": (["dinner", "Dinner"], ["diner", "breakfast", "lunch"]),
    "demo-a2-l04": (["6", "six", "£6", "6 pounds", "Six pounds."], ["12", "£12", "sixteen"]),
    "demo-a2-g05": (["since"], ["for", "from"]),
    "demo-a2-v06": (["passenger", "Passenger."], ["passanger", "pilot", "driver"]),
    "demo-a2plus-l05": (["Harwood", "Harwood Road", "harwood rd."], ["Harewood", "Hardwood"]),
    "demo-a2plus-g05": (["swimming"], ["swim", "swiming"]),
    "demo-a2plus-v06": (["advice"], ["advise", "advices"]),
    "demo-b1-l05": (
        ["18", "18th", "the 18th", "18th March", "eighteenth"],
        ["15", "15th", "fifteenth", "8"],
    ),
    "demo-b1-g05": (["such"], ["so", "very"]),
    "demo-b1-v06": (["unsafe"], ["safe", "insafe", "dangerous"]),
    "demo-b1plus-l05": (["1862"], ["1826", "1962"]),
    "demo-b1plus-g05": (["could"], ["can", "would"]),
    "demo-b1plus-v06": (["construction"], ["constructing", "constructor"]),
    "demo-b2-g05": (["case"], ["if", "cause"]),
    "demo-b2-v06": (["willingness"], ["willing", "willingly", "willness"]),
    "demo-b2plus-g06": (["than"], ["then", "when"]),
    "demo-b2plus-v06": (["transparency"], ["transparent", "transparence"]),
    "demo-c1-g05": (["Contrary", "contrary"], ["contrast", "opposite"]),
    "demo-c1-v06": (["sustainability"], ["sustainable", "sustainment"]),
    "demo-c1bridge-g04": (["as", "As"], ["though", "if"]),
}


def test_text_entry_keys_accept_right_answers_and_refuse_wrong_ones() -> None:
    entries = {i["code"]: i for i in ITEMS if i["type"] == "text_entry"}
    assert sorted(TYPED) == sorted(entries)
    for code, (right, wrong) in TYPED.items():
        key = entries[code]["key"]
        for answer in right:
            assert check("text_entry", key, [], [], answer)[1], (code, answer)
        for answer in wrong:
            assert not check("text_entry", key, [], [], answer)[1], (code, answer)


def test_flows_match_the_reference_data() -> None:
    flows = list(FLOWS.values())
    assert flow_problems(flows, BY_CODE) == []
    codes = {f["code"] for f in flows}
    neo_plus = PLANS["neo_plus"]
    assert neo_plus["pt_assessment"] in codes
    assert PLANS["neo_jr"]["pt_assessment"] in codes
    assert {lv["ct_assessment"] for lv in neo_plus["levels"]} <= codes
    irt = FLOWS["pt_neo_plus.json"]["engine"]
    assert (
        irt["type"],
        irt["min_items"],
        irt["max_items"],
        irt["se_target"],
        irt["randomesque"],
    ) == ("irt", 10, 40, 0.3, 5)  # chosen in docs/placement.md
    staged = FLOWS["pt_neo_plus_staged.json"]["engine"]
    assert (
        staged["start_level"],
        staged["advance_threshold"],
        staged["stop_threshold"],
        staged["max_consecutive_wrong"],
    ) == ("Pre A1", 0.6, 0.4, 5)
    refined = {g["level"] for g in staged["groups"] if g["role"] == "refinement"}
    assert refined == {"A1+", "A2+", "B1+", "B2+"}


async def test_the_importer_accepts_the_demo_folder(tmp_path: Path) -> None:
    """The real import (schema, references, media rules, engines against the plans, a placement
    test's evidence at the default thresholds) into a database of its own, as the first README
    command does: the session's database holds other tests' placement tests, whose cut scores
    are the one ability scale a staged flow is simulated on (``bank.evidence.scale``)."""
    from etest import migrate
    from etest.cli import cli_actor
    from etest.config import Settings
    from etest.content.service import import_content
    from etest.content.sources import sources_from_path
    from etest.db import create_engine, create_sessionmaker, transaction
    from etest.plan.service import load_reference
    from tests.support.databases import throwaway_database

    sources = sources_from_path(DEMO)
    assert [s.problems for s in sources if s.problems] == []
    with throwaway_database(tmp_path) as url:
        await asyncio.to_thread(migrate.upgrade, url)
        settings = Settings(env="test", database_url=url, var_dir=tmp_path, secret_key="x")
        engine = create_engine(settings)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                await load_reference(session)
                result = await import_content(
                    session,
                    cli_actor(),
                    MediaStore(tmp_path / "media"),
                    sources,
                    settings=settings,
                )
                gap_rows = await _stored_gap_items(session)
        finally:
            await engine.dispose()
    # the gap items as stored (body, gaps, GPCM steps) score their keys in full
    gap_items = [i for i in ITEMS if i["type"] in ("cloze", "gap_match", "hottext")]
    assert sorted(gap_rows) == sorted(i["code"] for i in gap_items)
    for item in gap_items:
        row = gap_rows[item["code"]]
        assert row.body and (row.irt_steps or None) == item["irt"].get("steps")
        scored = score(
            row.type,
            row.key,
            [o["id"] for o in row.options],
            [],
            _full_answer(row.type, row.key),
            option_rows=row.options,
            gaps=row.gaps,
        )
        assert scored.correct and scored.points == max(1, len(row.gaps or [])), item["code"]
    assert [f.file for f in result.files] == FILES
    assert {f.status for f in result.files} <= {"imported", "unchanged"}
    imported = [f for f in result.files if f.status == "imported"]
    if len(imported) == len(FILES):
        assert sum(f.items_new + f.items_reused for f in imported) == len(ITEMS)
        referenced = [
            {(DEMO / ref["src"]).resolve() for i in bank["items"] for _, ref in media_refs(i)}
            for bank in BANKS
        ]
        assert sum(f.media for f in imported) == sum(
            len(refs) + len(mp3_siblings(refs)) for refs in referenced
        )


async def _stored_gap_items(session: Any) -> dict[str, Any]:
    from sqlalchemy import select

    from etest.models import Item as ItemRow

    rows = await session.scalars(
        select(ItemRow).where(ItemRow.type.in_(("cloze", "gap_match", "hottext")))
    )
    return {row.code: row for row in rows}


def _full_answer(item_type: str, key: dict[str, Any]) -> Any:
    if item_type == "cloze":
        return {g: k.get("correct") or k["accepted"][0] for g, k in key["gaps"].items()}
    if item_type == "gap_match":
        return key["pairs"]
    return key["correct"]


# ------------------------------------------------------------------- the checks can fail


def _item(code: str) -> Item:
    return copy.deepcopy(BY_CODE[code])


def test_coverage_check_catches_a_thin_cell() -> None:
    items = [i for i in ITEMS if i["code"] not in ("demo-b1-g01", "demo-b1-g07")]
    assert coverage_problems(items) == ["B1 grammar: 5 items, want 6"]
    assert coverage_problems(ITEMS[:200])[-1] == "200 items, want at least 250"


def test_irt_check_catches_a_misplaced_difficulty() -> None:
    items = copy.deepcopy(ITEMS)
    moved = next(i for i in items if i["code"] == "demo-a2-r01")
    moved["irt"]["b"] = -0.75  # on the A2/A2+ cut: outside the open A2 band
    assert irt_problems(items) == ["demo-a2-r01: b=-0.75 outside the A2 band -1.25..-0.75"]
    for item in items:
        if item["level"] == "B2":
            item["irt"]["b"] = 0.2
    assert any("not strictly increasing" in p for p in irt_problems(items))
    items = copy.deepcopy(ITEMS)
    guessed = next(i for i in items if i["code"] == "demo-a2-r01")
    guessed["irt"]["c"] = 0.3  # more than a blind guess among four options
    assert irt_problems(items) == [
        f"demo-a2-r01: wants 3PL with 0 < c <= 0.25, has {guessed['irt']}"
    ]


def test_can_do_check_catches_a_dangling_reference() -> None:
    item = _item("demo-c1-v02")
    item["can_do"] = "cd-b1-vocabulary"
    item["review_lessons"] = ["rl-nowhere"]
    assert can_do_problems([item], CAN_DO, LESSONS) == [
        "demo-c1-v02: can_do cd-b1-vocabulary is for another level/skill",
        "demo-c1-v02: review lesson 'rl-nowhere' does not exist",
    ]


def test_media_check_catches_missing_big_or_unsafe_files(tmp_path: Path) -> None:
    listening = _item("demo-a1-l01")
    (tmp_path / "media" / "audio").mkdir(parents=True)
    (tmp_path / "media" / "audio" / "a1-l01.opus").write_bytes(b"OggS" + b"\0" * 30_000)
    picture = _item("demo-prea1-v01")
    picture["options"][0]["image"]["alt"] = ""
    (tmp_path / "media" / "img").mkdir()
    for opt in picture["options"]:
        (tmp_path / opt["image"]["src"]).write_bytes(
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9" onload="x()">'
            b"<foreignObject/></svg>"
        )
    silent = _item("demo-b1-l02")
    del silent["stimulus"]["transcript"]
    problems = media_problems([listening, picture, silent], tmp_path)
    assert "demo-a1-l01: media/audio/a1-l01.opus is not Ogg Opus" in problems
    assert "demo-a1-l01: media/audio/a1-l01.opus is 30004 bytes" in problems
    assert any("has no alt text" in p for p in problems)
    assert any("<foreignObject> element" in p for p in problems)
    assert "demo-b1-l02: a listening item needs audio and a transcript" in problems
    assert "demo-b1-l02: media/audio/b1-l02.opus is missing or empty" in problems


def test_audio_check_catches_an_edited_transcript() -> None:
    edited = _item("demo-b2-l05")
    edited["stimulus"]["transcript"] = edited["stimulus"]["transcript"].replace("three", "two")
    slower = _item("demo-c1-l02")
    slower["level"] = "A1"  # another speed: another voice plan
    assert stale_audio([edited, slower, _item("demo-b2-l06")], DEMO) == [
        "demo-b2-l05",
        "demo-c1-l02",
    ]


def test_key_check_catches_giveaways() -> None:
    choose = _item("demo-a2-l06")
    choose["key"]["correct"] = choose["key"]["correct"][:1]
    leak = _item("demo-a1-l03")
    answer = next(o["text"] for o in leak["options"] if o["id"] == leak["key"]["correct"][0])
    leak["prompt"] = f"Listen. Is the bank {answer}?"
    solved = _item("demo-a1-g05")
    solved["options"] = sorted(
        solved["options"], key=lambda o: solved["key"]["order"].index(o["id"])
    )
    assert key_problems([choose, leak, solved]) == [
        "demo-a2-l06: the prompt must say how many to choose (1)",
        "demo-a1-l03: the prompt gives the answer away",
        "demo-a1-g05: the pieces are stored in the answer's order",
    ]


def test_flow_check_catches_wrong_references() -> None:
    ct = copy.deepcopy(FLOWS["ct_neo_plus_b1.json"])
    ct["engine"]["sections"][0]["pool"][0] = "demo-b2-l01"
    ct["engine"]["sections"][1]["pool"].append("demo-nowhere")
    ct["code"] = "ct_neo_plus_b1_old"
    staged = copy.deepcopy(FLOWS["pt_neo_jr.json"])
    staged["engine"]["groups"][0]["items"].append("demo-a1-r01")
    problems = flow_problems([ct, staged], BY_CODE)
    assert "ct_neo_plus_b1_old: the plan names ct_neo_plus_b1" in problems
    assert "ct_neo_plus_b1_old: listening pool holds ['demo-b2-l01']" in problems
    assert "ct_neo_plus_b1_old: unknown item demo-nowhere" in problems
    assert "pt_neo_jr: Pre A1 group holds ['demo-a1-r01']" in problems
