"""Reply budgets from schema bounds: a schema-constrained reply at every bound still fits."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from sage_nb.agent import prompts as agent_prompts
from sage_nb.llm.parsing import reply_token_bound


class Item(BaseModel):
    text: Annotated[str, Field(max_length=20)]
    level: Literal["high", "low"]


class Reply(BaseModel):
    items: list[Item] = Field(max_length=3)
    score: int


class Free(BaseModel):
    text: str


def _longest() -> str:
    return Reply(items=[Item(text="x" * 20, level="high")] * 3, score=10_000_000).model_dump_json()


def test_the_bound_covers_the_longest_reply_at_one_token_per_character():
    assert reply_token_bound(Reply) >= len(_longest())
    assert reply_token_bound(Reply) < 3 * len(_longest())  # and is not absurdly loose


def test_an_unbounded_field_has_no_bound():
    assert reply_token_bound(Free) is None


@pytest.mark.parametrize("role", ["explainer", "designer", "analyzer", "reviewer", "synthesis"])
def test_every_agent_role_budget_covers_its_schema(role):
    for causal in (False, True):
        assert agent_prompts.reply_tokens(role, causal) == reply_token_bound(agent_prompts.schema_for(role, causal))
