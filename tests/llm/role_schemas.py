"""Small-model-friendly example schemas shaped like the agent's roles (the agent defines its own).

Strings and lists are bounded so that a constrained reply always fits in the token budget; no field needs a double
quote inside a string.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

Short = Annotated[str, Field(min_length=1, max_length=60)]


class Hypothesis(BaseModel):
    kind: Literal["token", "word", "phrase", "topic", "syntax"]
    text: Short


class ExplainerReply(BaseModel):
    hypotheses: list[Hypothesis] = Field(min_length=2, max_length=3)


class ProbeText(BaseModel):
    text: Short
    expect: Literal["high", "low"]


class DesignerReply(BaseModel):
    tests: list[ProbeText] = Field(min_length=2, max_length=3)


class AnalyzerReply(BaseModel):
    reason: Short
    verdict: Literal["accept", "refute", "refine", "keep_testing"]


class ReviewerReply(BaseModel):
    issues: list[Short] = Field(max_length=2)
    score: int = Field(ge=0, le=10)


class SynthesisReply(BaseModel):
    explanation: Short
    confidence: Literal["low", "medium", "high"]


class SimulationReply(BaseModel):
    score: int = Field(ge=0, le=10)


ROLE_SCHEMAS: dict[str, type[BaseModel]] = {
    "explainer": ExplainerReply,
    "designer": DesignerReply,
    "analyzer": AnalyzerReply,
    "reviewer": ReviewerReply,
    "synthesis": SynthesisReply,
    "simulation": SimulationReply,
}

WORDS = ["name", "river", "Paris", "def", "happy", "the", "2024", "because", "(", "cat", "blue", "run"]


def role_prompt(role: str, i: int) -> str:
    """A varied prompt for call ``i`` of ``role``."""
    word = WORDS[i % len(WORDS)]
    other = WORDS[(i * 7 + 3) % len(WORDS)]
    prompts = {
        "explainer": f"A feature fires on '{word}' and sometimes on '{other}'. Propose hypotheses about it.",
        "designer": f"Hypothesis: fires on '{word}'. Write test texts and say if each should be high or low.",
        "analyzer": f"Hypothesis: fires on '{word}'. Tests: {i % 5} of 5 high texts fired. Give a verdict.",
        "reviewer": f"Review the explanation 'fires on {word} after {other}'. List issues and score it.",
        "synthesis": f"Accepted: fires on '{word}'. Refuted: fires on '{other}'. Summarise the feature.",
        "simulation": f"Explanation: fires on '{word}'. Text: 'my {other} is {word} {i}'. How strongly does it fire?",
    }
    return prompts[role]
