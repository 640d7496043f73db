from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from etest.kit.levels import LEVELS, canonical_level
from etest.kit.schemas import Input, Output
from etest.kit.text import NameText
from etest.plan.policy import DEFAULT_MAX_ATTEMPTS, DEFAULT_PASS_MARK


class LevelOut(Output):
    name: str
    seq: int
    cefr: str


class PlanLevel(Input):
    level: str
    pass_mark: int = Field(
        DEFAULT_PASS_MARK, ge=0, le=100, description="Percent correct needed to pass the CT"
    )
    ct_assessment: str = Field(min_length=1, max_length=100)

    @field_validator("level")
    @classmethod
    def _canonical(cls, value: str) -> str:
        name = canonical_level(value)
        if name is None:
            raise ValueError(f"unknown level {value!r}; levels are {', '.join(LEVELS)}")
        return name


class RetakePolicy(Input):
    max_attempts: int = Field(DEFAULT_MAX_ATTEMPTS, ge=1, le=20)
    after_max: Literal["needs_review"] = "needs_review"


class PlanUpdate(Input):
    name: NameText = Field(min_length=1, max_length=200)  # printed on certificates
    aliases: list[str] = Field(default_factory=list, max_length=20)
    audience: str = Field("", max_length=200)
    pt_assessment: str = Field(min_length=1, max_length=100)
    levels: list[PlanLevel] = Field(min_length=1, max_length=len(LEVELS))
    retake_policy: RetakePolicy = Field(default_factory=RetakePolicy)
    continues: bool = True
    # named ``register`` in JSON and in the plans table; another name in Python, where
    # ``register`` is the ABC method every pydantic model has
    wording: Literal["adult", "young"] = Field(
        "adult",
        alias="register",
        description="The wording of the candidate's pages: young for young learners",
    )

    @model_validator(mode="after")
    def _ordered_levels(self) -> PlanUpdate:
        seqs = [LEVELS.index(lv.level) for lv in self.levels]
        if seqs != sorted(set(seqs)):
            raise ValueError("levels must be distinct and in scale order (Pre A1 … C1-Bridge)")
        return self


class PlanOut(Output):
    code: str
    name: str
    aliases: list[str]
    audience: str
    pt_assessment: str
    levels: list[dict[str, object]]
    retake_policy: dict[str, object]
    continues: bool
    wording: str = Field(validation_alias="register", serialization_alias="register")
