"""The flow format ``etest-flow/1``: the JSON files that carry items, can-do statements, review
lessons and assessment definitions into eTest (documented in ``docs/flows.md``; the JSON Schema
generated from these models is served at ``/schemas/flow.json``).

A file is one of three kinds:

* ``bank`` — items (with their can-do statements and review lessons) and nothing else;
* ``PT`` — a placement assessment of a plan, run by the ``staged`` or the ``irt`` engine;
* ``CT`` — a certification assessment of a plan and level, run by the ``fixed`` engine.

PT and CT files may carry items of their own too. Engines name items by ``code``; a code resolves
to an item of the same file, or else to the latest version of an item already imported.
Media (images, audio) are referenced by a path relative to the file (or package root).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
    model_validator,
)

from etest.kit.levels import validate_level
from etest.kit.schemas import Input

FORMAT: Literal["etest-flow/1"] = "etest-flow/1"

ItemType = Literal[
    "single_choice",
    "multiple_choice",
    "text_entry",
    "ordering",
    "matching",
    "cloze",
    "gap_match",
    "hottext",
]
#: Item types whose ``body`` holds ``[[id]]`` markers: a gap (cloze, gap_match) or a piece of
#: text to choose (hottext, naming an option).
BODY_TYPES = frozenset({"cloze", "gap_match", "hottext"})
#: ``[[id]]`` in a body: where a gap or a choosable piece of text stands.
MARKER = re.compile(r"\[\[([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})\]\]")
Skill = Literal["listening", "reading", "grammar", "vocabulary"]
SKILLS: tuple[Skill, ...] = ("listening", "reading", "grammar", "vocabulary")
ItemStatus = Literal["draft", "pilot", "active", "retired"]
Normalization = Literal["exact", "trim", "casefold", "casefold_punctuation"]

Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,119}$")]
OptionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Text = Annotated[str, StringConstraints(max_length=20_000)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class MediaRef(Input):
    """A media file: ``src`` is a path relative to the flow file or package root (no ``..``,
    no absolute path, no URL). After import it is stored by content hash."""

    src: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    alt: str | None = Field(None, max_length=500, description="Required for images")

    @field_validator("src")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = value.replace("\\", "/").split("/")
        if value.startswith(("/", "\\")) or ".." in parts or re.match(r"^[a-zA-Z]+:", value):
            raise ValueError(f"media path {value!r} must be relative, without '..' or a scheme")
        return value


class Stimulus(Input):
    """What the candidate reads, sees or hears before answering."""

    text: Text | None = Field(None, description="HTML allowed; sanitised on import")
    image: MediaRef | None = None
    audio: MediaRef | None = None
    transcript: Text | None = Field(None, description="Of the audio; shown to admins only")


class Option(Input):
    id: OptionId
    text: Text | None = None
    image: MediaRef | None = None
    audio: MediaRef | None = None
    max_uses: int = Field(
        1,
        ge=0,
        le=20,
        description="gap_match only: how many gaps this word may fill (0: any number)",
    )

    @model_validator(mode="after")
    def _has_content(self) -> Option:
        if self.text is None and self.image is None and self.audio is None:
            raise ValueError(f"option {self.id!r} has no text, image or audio")
        return self


class ChoiceKey(Input):
    correct: list[OptionId] = Field(min_length=1)


class Gap(Input):
    """A gap of a ``cloze`` or ``gap_match`` body, written ``[[id]]`` where it stands. A cloze
    gap with ``choices`` is an inline choice (a drop-down); without, the candidate types."""

    id: OptionId
    choices: list[Option] = Field(
        default_factory=list, max_length=20, description="cloze only: an inline choice"
    )
    expected_length: int | None = Field(
        None, ge=1, le=200, description="cloze typed gaps: the width of the box, in characters"
    )

    @model_serializer(mode="wrap")
    def _stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.expected_length is None:
            data.pop("expected_length", None)
        return data


class InlineChoiceKey(Input):
    """The right choice of an inline-choice gap."""

    correct: OptionId


class NumberKey(Input):
    """A numeric answer: the candidate's text is read as a number ("4.14", "4,14", "-2e3") and
    compared with ``value`` within the tolerance, as QTI's ``equal`` operator does (a text such
    as "4136" is a different number, never a spelling of 4.136)."""

    value: float = Field(allow_inf_nan=False)
    integer: bool = Field(False, description="Only a whole number is an answer (4.5 is wrong)")
    tolerance_mode: Literal["exact", "absolute", "relative"] = Field(
        "exact",
        description="exact: equal to value; absolute: within value - t0 … value + t1; "
        "relative: within value × (1 - t0/100) … value × (1 + t1/100) (percent)",
    )
    tolerance: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=list,
        max_length=2,
        description="[t0] or [t0, t1] (below, above); empty when tolerance_mode is exact",
    )
    include_lower: bool = True
    include_upper: bool = True

    @model_validator(mode="after")
    def _tolerance(self) -> NumberKey:
        if (self.tolerance_mode == "exact") != (not self.tolerance):
            raise ValueError("a tolerance is given exactly when tolerance_mode is not exact")
        return self


class TextEntryKey(Input):
    accepted: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        min_length=1,
        description="Accepted answers; with number, the correct value as written (shown to "
        "reviewers) and further numbers that also score",
    )
    normalize: Normalization = "casefold_punctuation"
    number: NumberKey | None = Field(
        None, description="Score the answer as a number (QTI baseType float or integer)"
    )

    @model_serializer(mode="wrap")
    def _stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a key without number is stored as before number existed (same content hash)
        data: dict[str, Any] = handler(self)
        if self.number is None:
            data.pop("number", None)
        return data


class OrderKey(Input):
    order: list[OptionId] = Field(min_length=2)


class MatchKey(Input):
    pairs: list[tuple[OptionId, OptionId]] = Field(
        min_length=1, description="(option id, target id)"
    )


class ClozeKey(Input):
    """Per gap of a cloze: the accepted typed answers, or the right inline choice. Each gap
    scores a point (the item is polytomous, 0 … number of gaps)."""

    gaps: dict[OptionId, TextEntryKey | InlineChoiceKey] = Field(min_length=1)


class Irt(Input):
    """Dichotomous (1PL/2PL/3PL: ``a``, ``b``, ``c``) or, for an item scored 0 … k (cloze,
    gap_match), the generalized partial credit model: ``a`` and one step difficulty per point
    (``steps``, k of them; ``b`` is then their mean and may be left out)."""

    model: Literal["1PL", "2PL", "3PL", "GPCM"] = "2PL"
    a: float = Field(1.0, gt=0, le=6, allow_inf_nan=False)
    b: float | None = Field(None, ge=-8, le=8, allow_inf_nan=False)
    c: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False)
    steps: list[Annotated[float, Field(ge=-8, le=8, allow_inf_nan=False)]] | None = Field(
        None, min_length=2, max_length=20, description="GPCM only: the step difficulties"
    )

    @model_validator(mode="after")
    def _shape(self) -> Irt:
        if self.model == "GPCM":
            if self.steps is None:
                raise ValueError("a GPCM item needs its step difficulties (steps)")
            if self.c:
                raise ValueError("a GPCM item has no guessing parameter c")
            self.b = round(sum(self.steps) / len(self.steps), 6)
        else:
            if self.steps is not None:
                raise ValueError(f"steps belong to GPCM items, not {self.model}")
            if self.b is None:
                raise ValueError(f"a {self.model} item needs its difficulty b")
        return self

    @model_serializer(mode="wrap")
    def _stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.steps is None:
            data.pop("steps", None)
        return data


def max_points(item_type: str, gaps: list[Any] | None) -> int:
    """The points an item is scored out of: one per gap of a cloze or gap_match, else 1 (the
    one rule scoring, the engine and the reports read)."""
    if item_type in ("cloze", "gap_match"):
        return len(gaps or [])
    return 1


class ItemIn(Input):
    """One item. ``key`` must match ``type``; option ids must be unique and referenced ids exist."""

    code: Code
    type: ItemType
    skill: Skill
    level: str | None = Field(None, description="Required unless status is draft")
    status: ItemStatus = "active"
    prompt: Text = Field(min_length=1, description="The question; HTML allowed, sanitised")
    stimulus: Stimulus | None = None
    options: list[Option] = Field(
        default_factory=list,
        max_length=20,
        description="Choices; the pieces to order; the left column",
    )
    targets: list[Option] = Field(
        default_factory=list, max_length=20, description="Matching only: the right column"
    )
    body: Text | None = Field(
        None,
        description="cloze, gap_match, hottext: the text (HTML allowed) with [[id]] where each "
        "gap (or, hottext, each choosable option) stands",
    )
    gaps: list[Gap] = Field(default_factory=list, max_length=40, description="cloze, gap_match")
    key: ChoiceKey | TextEntryKey | OrderKey | MatchKey | ClozeKey
    can_do: Code | None = None
    review_lessons: list[Code] = Field(default_factory=list, max_length=20)
    irt: Irt | None = None
    shuffle_options: bool = True
    time_limit_seconds: int | None = Field(None, ge=5, le=3600)
    source: str | None = Field(None, max_length=500, description="Where it came from (QTI id)")

    _lvl = field_validator("level")(validate_level)

    @model_validator(mode="after")
    def _consistent(self) -> ItemIn:
        if self.level is None and self.status != "draft":
            raise ValueError("level is required unless status is draft")
        ids = [o.id for o in self.options]
        target_ids = [t.id for t in self.targets]
        if len(set(ids)) != len(ids) or len(set(target_ids)) != len(target_ids):
            raise ValueError("option ids must be unique")
        key = self.key
        if self.type in ("single_choice", "multiple_choice"):
            if not isinstance(key, ChoiceKey):
                raise ValueError(f"a {self.type} item needs a key {{'correct': [...]}}")
            if len(ids) < 2:
                raise ValueError("a choice item needs at least two options")
            if self.type == "single_choice" and len(key.correct) != 1:
                raise ValueError("a single_choice key has exactly one correct option")
            _known(key.correct, ids, "correct")
        elif self.type == "text_entry":
            if not isinstance(key, TextEntryKey):
                raise ValueError("a text_entry item needs a key {'accepted': [...]}")
        elif self.type == "ordering":
            if not isinstance(key, OrderKey):
                raise ValueError("an ordering item needs a key {'order': [...]}")
            if sorted(key.order) != sorted(ids):
                raise ValueError("an ordering key lists every option exactly once")
        elif self.type == "matching":
            if not isinstance(key, MatchKey):
                raise ValueError("a matching item needs a key {'pairs': [[option, target]]}")
            if not self.targets:
                raise ValueError("a matching item needs targets")
            _known([p[0] for p in key.pairs], ids, "pairs")
            _known([p[1] for p in key.pairs], target_ids, "pairs")
        self._body_rules(ids)
        return self

    def _body_rules(self, ids: list[str]) -> None:
        """The body, gaps and key of cloze, gap_match and hottext items (and none elsewhere)."""
        if self.type not in BODY_TYPES:
            if self.body is not None or self.gaps:
                raise ValueError(f"a {self.type} item has no body or gaps")
            if self.irt is not None and self.irt.model == "GPCM":
                raise ValueError(f"a {self.type} item is scored 0 or 1: use a 1PL, 2PL or 3PL")
            return
        if not self.body:
            raise ValueError(f"a {self.type} item needs a body with [[id]] markers")
        markers = MARKER.findall(self.body)
        if len(set(markers)) != len(markers):
            raise ValueError("each [[id]] marker appears once in the body")
        gap_ids = [g.id for g in self.gaps]
        if len(set(gap_ids)) != len(gap_ids):
            raise ValueError("gap ids must be unique")
        key = self.key
        if self.type == "hottext":
            if self.gaps:
                raise ValueError("a hottext item has options in its body, not gaps")
            if not isinstance(key, ChoiceKey):
                raise ValueError("a hottext item needs a key {'correct': [...]}")
            if sorted(markers) != sorted(ids) or len(ids) < 2:
                raise ValueError("a hottext body marks each of its (two or more) options once")
            _known(key.correct, ids, "correct")
            return
        if sorted(markers) != sorted(gap_ids) or not gap_ids:
            raise ValueError(f"a {self.type} body marks each of its gaps once, as [[gap id]]")
        if self.type == "cloze":
            if not isinstance(key, ClozeKey):
                raise ValueError("a cloze item needs a key {'gaps': {gap id: ...}}")
            if self.options or self.targets:
                raise ValueError("a cloze item keeps its choices in its gaps")
            if sorted(key.gaps) != sorted(gap_ids):
                raise ValueError("a cloze key answers every gap, and only those")
            for gap in self.gaps:
                answer = key.gaps[gap.id]
                choice_ids = [c.id for c in gap.choices]
                if len(set(choice_ids)) != len(choice_ids):
                    raise ValueError(f"gap {gap.id!r}: choice ids must be unique")
                if gap.choices:
                    if not isinstance(answer, InlineChoiceKey) or len(choice_ids) < 2:
                        raise ValueError(
                            f"gap {gap.id!r}: an inline choice has two or more choices and a "
                            "key {'correct': choice id}"
                        )
                    _known([answer.correct], choice_ids, f"gap {gap.id!r}")
                elif not isinstance(answer, TextEntryKey):
                    raise ValueError(f"gap {gap.id!r}: a typed gap needs {{'accepted': [...]}}")
        else:  # gap_match: options are the words, each gap takes one
            if not isinstance(key, MatchKey):
                raise ValueError("a gap_match item needs a key {'pairs': [[word, gap]]}")
            if self.targets or any(g.choices for g in self.gaps) or len(ids) < 2:
                raise ValueError("a gap_match item has its words as options and empty gaps")
            _known([p[0] for p in key.pairs], ids, "pairs")
            _known([p[1] for p in key.pairs], gap_ids, "pairs")
            if sorted({p[1] for p in key.pairs}) != sorted(gap_ids):
                raise ValueError("a gap_match key fills every gap")
            gaps_of: dict[str, set[str]] = {}
            for word, gap_id in key.pairs:
                gaps_of.setdefault(word, set()).add(gap_id)
            for option in self.options:
                if option.max_uses and len(gaps_of.get(option.id, ())) > option.max_uses:
                    raise ValueError(f"the key uses {option.id!r} more often than its max_uses")
        points = max_points(self.type, self.gaps)
        irt = self.irt
        if irt is not None and irt.model == "GPCM" and len(irt.steps or []) != points:
            raise ValueError(f"a GPCM item scored 0 … {points} has {points} steps")


def _known(refs: list[str], ids: list[str], where: str) -> None:
    missing = [r for r in refs if r not in ids]
    if missing:
        raise ValueError(f"{where} names unknown option ids {missing}")


class CanDoIn(Input):
    """A can-do statement of a level and skill, with its "cannot yet" (Can't-Do) wording."""

    code: Code
    level: str
    skill: Skill
    text: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    cannot_text: Annotated[str, StringConstraints(min_length=1, max_length=1000)]

    _lvl = field_validator("level")(validate_level)


class ReviewLessonIn(Input):
    code: Code
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=1000)] | None = None
    level: str | None = None
    skill: Skill | None = None

    _lvl = field_validator("level")(validate_level)


#: What a PT engine's ``min_answers`` means (docs/placement.md, "Unplaced").
_MIN_ANSWERS = (
    "The fewest answers (timed-out items do not count) a placement needs: a PT "
    "finished with fewer ends unplaced, without a level. Default: {default}"
)


class Pilot(Input):
    """Pilot items tried on live candidates: served at seeded random positions, scored and
    stored like any answer, never used for ability, result or pass mark (``docs/flows.md``)."""

    items: list[Code] = Field(
        min_length=1, max_length=200, description="Codes of items with status pilot"
    )
    rate: float = Field(
        gt=0,
        le=0.5,
        allow_inf_nan=False,
        description="The share of a test's positions given to pilot items, in (0, 0.5]",
    )

    @field_validator("items")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dupes = sorted({c for c in value if value.count(c) > 1})
        if dupes:
            raise ValueError(f"pilot items are named twice: {dupes}")
        return value


def _pilots_apart(pilot: Pilot | None, operational: list[str]) -> None:
    """A pilot item is never an operational item of the same engine."""
    if pilot is None:
        return
    both = sorted(set(pilot.items) & set(operational))
    if both:
        raise ValueError(f"pilot items must not be operational items of the engine too: {both}")


_PILOT = "Pilot items and their seeding rate (absent or null: no pilots)"


class StagedGroup(Input):
    level: str
    role: Literal["core", "refinement"] = "core"
    items: list[Code] = Field(min_length=1)

    _lvl = field_validator("level")(validate_level)


class StagedEngine(Input):
    """Imported-flow PT: core groups per level from ``start_level`` up; move up when a group's
    accuracy reaches ``advance_threshold``; stop on ``max_consecutive_wrong`` wrong answers in a
    row, on a group below ``stop_threshold``, or past the top level."""

    type: Literal["staged"]
    start_level: str | None = None
    advance_threshold: float = Field(0.8, gt=0, le=1)
    stop_threshold: float = Field(0.5, ge=0, lt=1)
    max_consecutive_wrong: int = Field(3, ge=1, le=50)
    groups: list[StagedGroup] = Field(min_length=1)
    min_answers: int | None = Field(
        None,
        ge=1,
        le=200,
        description=_MIN_ANSWERS.format(
            default="the shortest test the engine can stop on by itself: max_consecutive_wrong, "
            "or the core items of the start level when there are fewer"
        ),
    )
    pilot: Pilot | None = Field(None, description=_PILOT)

    _lvl = field_validator("start_level")(validate_level)

    @model_validator(mode="after")
    def _pilots(self) -> StagedEngine:
        _pilots_apart(self.pilot, [c for g in self.groups for c in g.items])
        return self


class Prior(Input):
    """The normal prior on ability of the EAP and MAP estimators (and of the MLE/WLE fallback
    while the responses are all right or all wrong)."""

    mean: float = Field(0.0, ge=-4, le=4, allow_inf_nan=False)
    sd: float = Field(1.0, ge=0.2, le=5, allow_inf_nan=False)
    #: ``prior: "estimated"`` in a flow: mean and SD are computed from the test's finished
    #: placements when the version is published (etest.bank.evidence.estimated_prior).
    estimated: bool = False

    @model_serializer(mode="wrap")
    def _stored(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # an explicit prior is stored as {mean, sd}, as before "estimated" existed
        data: dict[str, Any] = handler(self)
        if not self.estimated:
            data.pop("estimated", None)
        return data


class EvidenceThresholds(Input):
    """A placement test's thresholds for publishing (``docs/flows.md``, "Evidence"); a field
    left out or null takes the settings' default."""

    within_one_level: float | None = Field(
        None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="The least share of simulated candidates placed within one level of their "
        "true level, at every level (0: no requirement)",
    )
    max_mean_length: float | None = Field(
        None,
        gt=0,
        le=200,
        allow_inf_nan=False,
        description="The most items a simulated test may take on average",
    )


class IrtEngine(Input):
    """Adaptive PT on calibrated items (``etest.irt``). ``cut_scores`` are the ability values
    between consecutive levels of the plan (one fewer than its levels). The psychometric
    settings default to those of :class:`etest.irt.EngineConfig` (``docs/flows.md``)."""

    type: Literal["irt"]
    pool: list[Code] | None = Field(None, description="Item codes; default: pool_levels")
    pool_levels: list[str] | None = Field(None, description="All active items of these levels")
    cut_scores: list[float] = Field(min_length=1)
    prior: Prior = Field(
        default_factory=Prior,
        description="Normal prior on ability: {mean, sd}, or 'estimated' from this test's "
        "finished placements when the version is published (docs/flows.md)",
    )
    estimator: Literal["eap", "map", "mle", "wle"] = Field(
        "eap", description="Ability estimator for selection, stopping and the result"
    )
    min_items: int = Field(10, ge=1, le=200)
    max_items: int = Field(40, ge=1, le=200)
    se_target: float | None = Field(
        0.35, gt=0, le=2, description="Stop once the SE is at most this; null disables"
    )
    randomesque: int = Field(5, ge=1, le=50)
    exposure_max_rate: float | None = Field(
        None,
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="Sympson-Hetter target: the largest share of candidates any one item may "
        "be given; its exposure parameters are computed when the version is published; null: off",
    )
    classification: Literal["ci", "sprt", "off"] = Field(
        "ci",
        description="Stop once the level is known: ci (the interval lies in one level), sprt "
        "(one sequential test per cut score) or off",
    )
    classification_ci: float = Field(0.95, gt=0.5, lt=1)
    sprt_delta: float = Field(0.2, gt=0, le=2, allow_inf_nan=False)
    sprt_alpha: float = Field(0.05, gt=0, lt=0.5)
    sprt_beta: float = Field(0.05, gt=0, lt=0.5)
    min_information: float = Field(
        0.01,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="After min_items, stop when no eligible item has this much information at "
        "the ability estimate; 0 disables",
    )
    skill_targets: dict[Skill, Share] | None = None
    min_answers: int | None = Field(
        None, ge=1, le=200, description=_MIN_ANSWERS.format(default="min_items")
    )
    pilot: Pilot | None = Field(None, description=_PILOT)

    @field_validator("prior", mode="before")
    @classmethod
    def _explicit_prior(cls, value: object) -> object:
        if value == "estimated":
            return {"estimated": True}
        if isinstance(value, str):
            raise ValueError(
                f"prior {value!r} is not supported: give {{'mean': ..., 'sd': ...}} or "
                "'estimated' (the mean and SD of the abilities of this test's finished "
                "placements, computed when the version is published)"
            )
        return value

    @model_validator(mode="after")
    def _ordered(self) -> IrtEngine:
        if self.cut_scores != sorted(self.cut_scores) or len(set(self.cut_scores)) != len(
            self.cut_scores
        ):
            raise ValueError("cut_scores must be strictly increasing")
        if self.min_items > self.max_items:
            raise ValueError("min_items must not exceed max_items")
        if self.min_answers is not None and self.min_answers > self.max_items:
            raise ValueError("min_answers must not exceed max_items (no attempt could be placed)")
        if self.pool is None and self.pool_levels is None:
            raise ValueError("give pool (item codes) or pool_levels")
        if self.pool_levels is not None:
            self.pool_levels = [validate_level(lv) or lv for lv in self.pool_levels]
        if self.classification == "sprt" and len(self.cut_scores) > 1:
            half = min(b - a for a, b in pairwise(self.cut_scores)) / 2
            if self.sprt_delta > half:
                raise ValueError(
                    f"sprt_delta must be at most half the narrowest band between cut scores "
                    f"({half:g}), got {self.sprt_delta:g}"
                )
        if self.skill_targets is not None and abs(sum(self.skill_targets.values()) - 1) > 1e-6:
            raise ValueError(
                f"skill_targets must sum to 1, got {sum(self.skill_targets.values()):g}"
            )
        _pilots_apart(self.pilot, self.pool or [])
        return self


class Section(Input):
    skill: Skill
    count: int = Field(ge=1, le=200)
    pool: list[Code] = Field(min_length=1)

    @model_validator(mode="after")
    def _enough(self) -> Section:
        if len(set(self.pool)) < self.count:
            raise ValueError(
                f"section {self.skill}: pool has {len(set(self.pool))} items, count is {self.count}"
            )
        return self


class FixedEngine(Input):
    """CT: sections drawn in order, ``count`` items from each pool; items and options shuffled."""

    type: Literal["fixed"]
    sections: list[Section] = Field(min_length=1)
    time_limit_seconds: int | None = Field(None, ge=60, le=6 * 3600)
    item_time_limits: dict[ItemType, int] | None = None
    shuffle_items: bool = True
    shuffle_options: bool = True
    pilot: Pilot | None = Field(None, description=_PILOT)

    @model_validator(mode="after")
    def _pilots(self) -> FixedEngine:
        _pilots_apart(self.pilot, [c for s in self.sections for c in s.pool])
        return self


class FlowFile(Input):
    """One file of the flow format (see the module docstring)."""

    format: Literal["etest-flow/1"]
    kind: Literal["bank", "PT", "CT"]
    code: Code
    version: int = Field(ge=1, le=1_000_000)
    title: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    plan: str | None = Field(None, max_length=64)
    level: str | None = None
    description: str | None = Field(None, max_length=5000)
    can_do: list[CanDoIn] = Field(default_factory=list)
    review_lessons: list[ReviewLessonIn] = Field(default_factory=list)
    items: list[ItemIn] = Field(default_factory=list)
    engine: (
        Annotated[StagedEngine | IrtEngine | FixedEngine, Field(discriminator="type")] | None
    ) = None
    evidence: EvidenceThresholds | None = Field(
        None, description="PT only: thresholds a placement test must meet to be published"
    )

    _lvl = field_validator("level")(validate_level)

    @model_validator(mode="after")
    def _kind_rules(self) -> FlowFile:
        for what, codes in (
            ("item", [i.code for i in self.items]),
            ("can-do", [c.code for c in self.can_do]),
            ("review lesson", [r.code for r in self.review_lessons]),
        ):
            dupes = sorted({c for c in codes if codes.count(c) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} codes {dupes}")
        if self.evidence is not None and self.kind != "PT":
            raise ValueError("only a placement test (kind PT) has evidence thresholds")
        if self.kind == "bank":
            if self.engine is not None or self.plan is not None:
                raise ValueError("a bank has no engine and no plan")
            return self
        if self.plan is None or self.engine is None:
            raise ValueError(f"a {self.kind} flow needs a plan and an engine")
        if self.kind == "PT" and self.engine.type == "fixed":
            raise ValueError("a PT runs the staged or the irt engine")
        if self.kind == "CT" and (self.engine.type != "fixed" or self.level is None):
            raise ValueError("a CT runs the fixed engine and names its level")
        return self
