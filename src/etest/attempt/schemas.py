"""What the candidate sees: never an item's key, IRT parameters or audio transcript."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field

from etest.content.schemas import MARKER
from etest.kit.schemas import Input, Output


class AttemptStart(Input):
    token: str = Field(min_length=8, max_length=200)


class AnswerIn(Input):
    position: int = Field(ge=1, le=10_000)
    answer: Any = Field(
        description="single_choice: an option id; multiple_choice: a list of option ids; "
        "text_entry: the text; ordering: every option id in order; matching: "
        "[[option id, target id], ...]; cloze: {gap id: typed text or choice id} (gaps left "
        "out or empty score 0, at least one filled); gap_match: [[word id, gap id], ...] or "
        "{gap id: word id} (a gap takes one word, a word fills at most its max_uses gaps); "
        "hottext: the option id chosen, or a list of them when max_choices is 0"
    )


class MediaView(Output):
    url: str
    content_type: str
    alt: str | None = None
    #: The same recording in a second format (MP3 or AAC beside an Ogg Opus file), for
    #: browsers that do not play the first (Safari): offer both as ``<source>`` elements.
    alternative: MediaView | None = None


class OptionView(Output):
    id: str
    text: str | None
    image: MediaView | None
    audio: MediaView | None
    max_uses: int | None = Field(
        None,
        description="gap_match words only: how many gaps this word may fill (0: any number); "
        "null for every other option",
    )


class GapView(Output):
    """A gap of a cloze or gap_match body, standing where ``[[id]]`` is written in ``body``."""

    id: str
    choices: list[OptionView] = Field(
        description="cloze only: the choices of an inline-choice gap, in their authored order; "
        "empty for a gap the candidate types into (and for every gap_match gap: its words are "
        "the item's options)"
    )
    expected_length: int | None = Field(
        description="A typed cloze gap: the width of its box in characters, when the author gave it"
    )


class StimulusView(Output):
    text: str | None
    image: MediaView | None
    audio: MediaView | None


class Progress(Output):
    answered: int
    total: int | None = Field(description="Known for a CT; null for a variable-length PT")


class ItemView(Output):
    position: int
    type: str
    skill: str
    prompt: str
    stimulus: StimulusView | None
    options: list[OptionView] = Field(
        description="The choices; the pieces to order; matching's left column; gap_match's "
        "words (with max_uses); hottext's choosable pieces of the body (each stands at its "
        "[[id]] marker)"
    )
    targets: list[OptionView] = Field(description="Matching only: the right column")
    body: str | None = Field(
        None,
        description="cloze, gap_match, hottext: the text as sanitised HTML with [[id]] where "
        "each gap (cloze, gap_match: an id of gaps) or each choosable piece (hottext: an option "
        "id) stands; null for other types",
    )
    gaps: list[GapView] = Field(
        default_factory=list,
        description="cloze and gap_match: the gaps of body, in the order they stand in it",
    )
    max_choices: int | None = Field(
        None,
        description="hottext only: 1 when one piece of the text is chosen, 0 when the answer is "
        "every right piece (any number)",
    )
    served_at: datetime
    deadline: datetime | None
    progress: Progress

    def pieces(self) -> list[Piece]:
        """The body cut at its markers, for a page that puts a field where each stands."""
        return body_pieces(self.body or "")

    def gap(self, gap_id: str) -> GapView | None:
        """The gap a marker names (cloze, gap_match)."""
        return next((g for g in self.gaps if g.id == gap_id), None)

    def option(self, option_id: str) -> OptionView | None:
        """The option a marker names (hottext)."""
        return next((o for o in self.options if o.id == option_id), None)


class AnswerView(Output):
    position: int
    answer: Any
    timed_out: bool
    answered_at: datetime


class AttemptState(Output):
    id: uuid.UUID
    kind: str
    level: str | None
    status: str
    attempt_number: int
    started_at: datetime
    deadline: datetime | None
    finished_at: datetime | None
    progress: Progress
    answers: list[AnswerView]
    current_position: int | None
    outcome: dict[str, Any] | None
    result_hidden: bool


class AttemptStarted(Output):
    attempt_id: uuid.UUID
    secret: str = Field(description="Send as 'Authorization: Bearer <secret>' on attempt calls")
    resumed: bool
    state: AttemptState


class CurrentItem(Output):
    finished: bool
    item: ItemView | None = None
    state: AttemptState | None = None


class AnswerAck(Output):
    position: int
    accepted: bool = True
    timed_out: bool
    answered_at: datetime
    replay: bool = Field(description="True when this repeats an answer already accepted")


@dataclass(frozen=True)
class Piece:
    """A run of the body's HTML and the marker after it (``None`` after the last run)."""

    html: str
    marker: str | None


_TAG = re.compile(r"(<[^>]*>)")


def body_pieces(body: str) -> list[Piece]:
    """``body`` (sanitised HTML) cut at each ``[[id]]`` marker in its text (never inside a tag):
    joined again with a field in place of each marker, the HTML is the body's own."""
    pieces: list[Piece] = []
    run: list[str] = []
    for part in _TAG.split(body):
        if part.startswith("<"):
            run.append(part)
            continue
        last = 0
        for match in MARKER.finditer(part):
            run.append(part[last : match.start()])
            pieces.append(Piece("".join(run), match.group(1)))
            run, last = [], match.end()
        run.append(part[last:])
    pieces.append(Piece("".join(run), None))
    return pieces
