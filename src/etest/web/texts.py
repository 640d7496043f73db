"""Words shown to candidates: what a placement level means in plain language, skill names."""

from __future__ import annotations

#: One short sentence per CEFR band, written for a learner (a child may read it too).
_BAND = {
    "Pre A1": "You know some very common words and phrases, like greetings and numbers.",
    "A1": "You can understand and use simple everyday phrases when people speak slowly and "
          "clearly.",
    "A2": "You can understand and talk about familiar everyday things, like family, shopping "
          "and work, in simple sentences.",
    "B1": "You can manage most everyday situations, follow the main points of clear speech "
          "and texts on familiar topics, and describe your experiences.",
    "B2": "You can understand the main ideas of complex texts and talk about many topics "
          "with some fluency.",
    "C1": "You can understand long, demanding texts and express yourself fluently and "
          "flexibly at work, in study and in social life.",
}

_KIND = {"PT": "Assessment Test", "CT": "Certification Test"}

SKILLS = {"listening": "Listening", "reading": "Reading", "grammar": "Grammar",
          "vocabulary": "Vocabulary"}


def level_meaning(level: str) -> str:
    """What being placed at ``level`` means, in one or two plain sentences."""
    if level in _BAND:
        return _BAND[level]
    if level == "C1-Bridge":
        return _BAND["C1"] + " You are working beyond C1."
    base = level.rstrip("+")
    if level.endswith("+") and base in _BAND:
        return _BAND[base] + f" You are above {base} and on your way to the next level."
    return ""


def kind_name(kind: str) -> str:
    return _KIND.get(kind, "Test")


def skill_name(skill: str) -> str:
    return SKILLS.get(skill, skill.capitalize())
