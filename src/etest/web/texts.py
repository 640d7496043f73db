"""Words shown to candidates: test kinds, skill names (what a level means:
:func:`etest.kit.levels.level_meaning`)."""

from __future__ import annotations

_KIND = {"PT": "Assessment Test", "CT": "Certification Test"}

SKILLS = {
    "listening": "Listening",
    "reading": "Reading",
    "grammar": "Grammar",
    "vocabulary": "Vocabulary",
}


def kind_name(kind: str) -> str:
    return _KIND.get(kind, "Test")


def skill_name(skill: str) -> str:
    return SKILLS.get(skill, skill.capitalize())
