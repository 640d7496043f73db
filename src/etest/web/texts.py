"""Words shown to candidates that Python hands to the pages: test kinds, skill names (what a
level means: :func:`etest.kit.levels.level_meaning`), the sentences of the problems a
candidate meets on ``/take``, and the young learners' register. Marked with ``N_`` for the
``take`` catalog and translated where they are shown (``etest.web.language``)."""

from __future__ import annotations

from datetime import datetime

from etest.errors import EtestError
from etest.kit.i18n import N_, pN_
from etest.web import language

_KIND = {"PT": N_("Assessment Test"), "CT": N_("Certification Test")}

SKILLS = {
    "listening": N_("Listening"),
    "reading": N_("Reading"),
    "grammar": N_("Grammar"),
    "vocabulary": N_("Vocabulary"),
}


def kind_name(kind: str) -> str:
    """The test kind's name in English (a catalog message: the template translates it)."""
    return _KIND.get(kind, N_("Test"))


def skill_name(skill: str) -> str:
    """A skill's name in the page's language."""
    name = SKILLS.get(skill)
    return language.current().gettext(name) if name else skill.capitalize()


#: What a candidate is told when a token does not open a test, by problem code: the service's
#: English sentence, as a catalog message (the page says it in the page's language).
_PROBLEMS = {
    "token-not-found": N_("No test token with this code."),
    "token-expired": N_("This test token has expired."),
    "token-revoked": N_("This test token was revoked or replaced; ask for a new one."),
    "candidate-disabled": N_("This candidate may not take another placement test now."),
    "conflict": N_("The test is being started on another device; try again."),
}


def problem(exc: EtestError) -> str:
    """The sentence for ``exc`` in the page's language (the English detail when the catalog
    has none for its code)."""
    words = language.current()
    if exc.code == "token-not-yet-valid":
        opens = exc.extra.get("opens_at")
        try:
            moment = datetime.fromisoformat(opens) if isinstance(opens, str) else None
        except ValueError:
            moment = None
        if moment is not None:
            return words.gettext("This test opens on %(time)s.", time=words.datetime(moment))
    message = _PROBLEMS.get(exc.code)
    return words.gettext(message) if message else words.gettext(exc.detail)


def too_many(seconds: int) -> str:
    return language.current().gettext(
        "Too many tries: wait %(seconds)s seconds, then try again.", seconds=seconds
    )


#: The young learners' wording (plans with ``register: young``, e.g. neo Jr): short sentences,
#: everyday words. A message missing here keeps its normal wording.
YOUNG = (
    pN_("young", "Enter your test token"),
    pN_("young", "You find it in your test invitation. Capital and small letters are different."),
    pN_("young", "Start or continue the test"),
    pN_("young", "How it works"),
    pN_(
        "young",
        "Each answer is saved before the next question appears. You cannot go back to change it.",
    ),
    pN_("young", "If the connection drops, reload the page or enter your token again."),
    pN_("young", "Save and continue"),
    pN_("young", "Finish the test now"),
    pN_(
        "young",
        "Questions you have not answered count as wrong. After finishing you cannot answer any "
        "more questions.",
    ),
    pN_("young", "Your school or company will tell you your result. You can close this page now."),
    pN_("young", "Choose one answer"),
    pN_("young", "Choose all the right answers"),
    pN_("young", "Put the parts in order"),
)
