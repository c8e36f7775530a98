"""GEN on the planted digit feature with scripted LLM replies: success rates follow the target's own activations."""

from __future__ import annotations

import pytest
from scripted import ScriptedLLM

from sage_nb.evaluate import prompts
from sage_nb.evaluate.base import Candidate, EvalSetup, MeasureCache
from sage_nb.evaluate.generation import THRESHOLD_FRACTION, GenerationScorer, clean_texts

#: Digit texts of graded strength (a 2-digit number peaks at 3.5, a 4-digit one at 5.5) and texts without digits.
TEXTS = [
    "The shop opened 12 new branches across the country.",
    "In 2024 the river flooded the lower town twice.",
    "She wrote 1234567 on the board and smiled.",
    "We waited 7 days for the letter to arrive.",
    "See you on Monday at the usual place.",
    "The cat slept all afternoon by the window.",
    "Flight 451 was delayed by the storm last night.",
    "Nothing happened on Friday after the long meeting.",
    "He counted 30 sheep before he fell asleep.",
    "A quiet walk along the beach cleared her mind.",
]
CANDIDATE = Candidate(2, "sage", "Fires on digits in numbers, more on later digits.", ["digits", "numbers"])


def texts_policy(texts: list[str], seen: list[str] | None = None):
    """A policy answering the GEN role with ``texts`` (and recording the user message in ``seen``)."""

    def policy(role, messages, request):
        assert role == "gen"
        if seen is not None:
            seen.append(messages[-1]["content"])
        return {"texts": texts}

    return policy


def setup_for(planted, fd, llm, **kwargs) -> EvalSetup:
    return EvalSetup(planted, llm, fd, **kwargs)


def expected_rate(planted, feature: int, texts: list[str], threshold: float) -> float:
    maxima = [planted.measure(t, feature).max_act for t in texts]
    return sum(m >= threshold for m in maxima) / len(maxima)


@pytest.mark.parametrize("rule", ["sage", "saeexplainer"])
def test_success_rate_equals_planted_activations(planted, digit, rule):
    llm = ScriptedLLM(texts_policy(TEXTS))
    score = GenerationScorer(threshold=rule).score(CANDIDATE, setup_for(planted, digit, llm))
    if rule == "sage":  # independent: the top-10 exemplars' maxima, straight from the mined windows
        reference = sum(max(ex.acts) for ex in digit.top[:10]) / min(10, len(digit.top))
    else:
        reference = digit.max_activation
    threshold = THRESHOLD_FRACTION * reference
    assert score.details["threshold_value"] == pytest.approx(threshold)
    assert score.value == pytest.approx(expected_rate(planted, digit.index, TEXTS, threshold))
    assert 0 < score.value < 1
    assert score.metric == "gen" and score.explainer == "sage" and score.feature == digit.index
    assert score.n == len(TEXTS) and llm.calls == ["gen"]
    measured = {row["text"]: row["max_act"] for row in score.details["texts"]}
    for text in TEXTS:
        assert measured[text] == pytest.approx(planted.measure(text, digit.index).max_act, abs=1e-4)
    mean_max = sum(measured.values()) / len(measured)
    assert score.details["mean_max_act"] == pytest.approx(mean_max, abs=1e-3)
    assert score.details["mean_max_fraction"] == pytest.approx(mean_max / max(ex.max_act for ex in digit.top), abs=1e-3)


def test_the_two_thresholds_differ_on_the_digit_feature(planted, digit):
    rates = {}
    for rule in ("sage", "saeexplainer"):
        llm = ScriptedLLM(texts_policy(TEXTS))
        rates[rule] = GenerationScorer(threshold=rule).score(CANDIDATE, setup_for(planted, digit, llm)).value
    # the mean top-10 maximum is below the feature's maximum, so 'sage' is the more lenient rule here
    assert rates["sage"] > rates["saeexplainer"]


def test_unrelated_texts_score_zero_and_digit_texts_score_one(planted, digit):
    unrelated = [t for t in TEXTS if not any(c.isdigit() for c in t)]
    strong = ["Pin 98765 opens the side door.", "Her number was 5551234 last year.", "Dial 4567890 for help."]
    gen = GenerationScorer(n_texts=3)
    low = gen.score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(unrelated[:3]))))
    high = gen.score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(strong))))
    assert low.value == 0.0 and high.value == 1.0


def test_representation_switch_changes_what_the_llm_sees(planted, digit):
    for representation, shown, hidden in (
        ("description", CANDIDATE.description, "digits; numbers"),
        ("labels", "digits; numbers", CANDIDATE.description),
    ):
        seen: list[str] = []
        setup = setup_for(planted, digit, ScriptedLLM(texts_policy(TEXTS, seen)), representation=representation)
        score = GenerationScorer().score(CANDIDATE, setup)
        assert shown in seen[0] and hidden not in seen[0]
        assert score.details["representation"] == representation


def test_duplicates_and_empty_texts_are_dropped_with_a_note(planted, digit):
    texts = [*TEXTS[:7], "  the SHOP opened 12 new branches across the country. ", "     ", TEXTS[2]]
    score = GenerationScorer().score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(texts))))
    assert score.n == 7
    assert [row["text"] for row in score.details["texts"]] == TEXTS[:7]
    assert "dropped 1 empty text(s)" in score.notes and "dropped 2 duplicate text(s)" in score.notes
    assert score.value == pytest.approx(
        expected_rate(
            planted, digit.index, TEXTS[:7], GenerationScorer().threshold_value(setup_for(planted, digit, None))
        )
    )


def test_visible_whitespace_marks_are_undone_and_word_bounds_noted():
    kept, notes = clean_texts(["Call␣5551234␣now please friend", "", "call 5551234 now please friend", "Too short 1"])
    assert kept == ["Call 5551234 now please friend", "Too short 1"] and len(notes) == 2


@pytest.mark.parametrize(
    "reply",
    [
        "not json at all",
        {"texts": ["only one text here"]},  # the schema asks for exactly n
        {"wrong": []},
    ],
)
def test_malformed_replies_give_none_with_the_error(planted, digit, reply):
    llm = ScriptedLLM(lambda role, messages, request: reply)
    score = GenerationScorer().score(CANDIDATE, setup_for(planted, digit, llm))
    assert score.value is None and score.n == 0
    assert score.notes and score.notes[0].startswith("LLM reply failed:")
    assert llm.calls == ["gen", "gen"]  # the LLM layer's repair turn, then give up


def test_no_usable_texts_gives_none(planted, digit):
    llm = ScriptedLLM(texts_policy(["     ", "       "]))
    score = GenerationScorer(n_texts=2).score(CANDIDATE, setup_for(planted, digit, llm))
    assert score.value is None and "no usable texts" in score.notes[0]


def test_texts_are_measured_through_the_cache(planted, digit, tmp_path):
    cache = MeasureCache(planted, tmp_path / "measure.json")
    gen = GenerationScorer()
    first = gen.score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(TEXTS)), measure=cache))
    second = gen.score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(TEXTS)), measure=cache))
    assert cache.misses == len(TEXTS) and cache.hits == len(TEXTS)
    assert first.value == second.value and not (tmp_path / "measure.json").exists()
    cache.save()
    reloaded = MeasureCache(planted, tmp_path / "measure.json")
    third = gen.score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(TEXTS)), measure=reloaded))
    assert reloaded.misses == 0 and third.value == first.value


def test_request_is_bounded_and_options_are_checked(planted, digit):
    requests = []

    def policy(role, messages, request):
        requests.append(request)
        return {"texts": TEXTS[:4]}

    GenerationScorer(n_texts=4).score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(policy)))
    assert requests[0].max_tokens == prompts.text_reply_tokens(4)
    assert requests[0].schema is prompts.generation_schema(4)
    assert requests[0].temperature == prompts.GEN_TEMPERATURE > 0  # sampled: a greedy small reader repeats itself
    sampled = GenerationScorer(n_texts=4, temperature=0.3).score(
        CANDIDATE, setup_for(planted, digit, ScriptedLLM(policy))
    )
    assert requests[1].temperature == 0.3 and sampled.details["temperature"] == 0.3
    with pytest.raises(ValueError, match="temperature"):
        GenerationScorer(temperature=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        GenerationScorer(threshold="median")
    with pytest.raises(ValueError, match="texts"):
        GenerationScorer(n_texts=0)


#: What small readers wrote in place of texts for the explanation: the worked example, inflected or re-punctuated.
EXAMPLE_COPIES = ["The cat sleeps on the warm kitchen floor!", "a dog and two horses ran across the fields"]


def test_copies_of_the_worked_example_are_dropped_before_measuring(planted, digit):
    seen: list[str] = []
    policy = texts_policy(TEXTS[:4] + EXAMPLE_COPIES + ["In 2024 the cat slept on the warm kitchen floor."], seen)
    score = GenerationScorer(n_texts=7).score(CANDIDATE, setup_for(planted, digit, ScriptedLLM(policy)))
    kept = [row["text"] for row in score.details["texts"]]
    # the example adapted to the explanation (a number added) tests the explanation, so it is measured
    assert kept == TEXTS[:4] + ["In 2024 the cat slept on the warm kitchen floor."] and score.n == 5
    assert "dropped 2 example-copying text(s)" in score.notes


def test_a_reply_of_example_copies_only_is_no_score(planted, digit):
    score = GenerationScorer(n_texts=2).score(
        CANDIDATE, setup_for(planted, digit, ScriptedLLM(texts_policy(EXAMPLE_COPIES)))
    )
    assert score.value is None and score.n == 0
    assert score.notes == ["the LLM wrote no usable texts (dropped 2 example-copying text(s))"]


def test_the_guard_knows_every_example_text_the_prompts_show():
    shown = prompts.GEN_SYSTEM + prompts.INPUT_SYSTEM
    examples = [*prompts.EXAMPLE_POSITIVES, *prompts.EXAMPLE_INPUT_POSITIVES, *prompts.EXAMPLE_NEGATIVES]
    assert all(f"'{text}'" in shown for text in examples)
    assert all(prompts.copies_example(text) for text in [*examples, prompts.EXAMPLE_EXPLANATION])
    assert not any(prompts.copies_example(text) for text in TEXTS)


def test_a_text_at_the_length_bound_fits_its_token_budget(planted):
    """Digits tokenise one per character: 10 texts of 120 digits, quoted, fit the reply budget of 10 texts."""
    longest = "9" * prompts.GEN_TEXT_MAX_CHARS
    reply = '{"texts":[' + ",".join([f'"{longest}"'] * 10) + "]}"
    assert len(planted.tokenizer(reply, add_special_tokens=False).input_ids) <= prompts.text_reply_tokens(10)
    with pytest.raises(ValueError):
        prompts.generation_schema(1).model_validate({"texts": [longest + "9"]})


@pytest.mark.slow
def test_gen_with_the_local_llm_end_to_end(planted, digit):
    from sage_nb.llm import make_llm

    setup = EvalSetup(planted, make_llm("local-capable"), digit)  # a reader that can write on-concept texts
    score = GenerationScorer().score(CANDIDATE, setup)
    print(score.value, score.notes, score.details.get("texts"))
    assert score.value is not None and 0.0 <= score.value <= 1.0
    assert score.n > 0 and len(score.details["texts"]) == score.n
    assert setup.measure.misses == score.n


def test_a_measurement_cache_of_another_target_is_refused(planted, tmp_path):
    from sage_nb.targets.planted import PlantedTarget, planted_features

    path = tmp_path / "measurements.json"
    cache = MeasureCache(planted, path)
    (row,) = cache.measure(["See you on Monday"], 0)
    cache.save()
    again = MeasureCache(planted, path)
    assert again.measure(["See you on Monday"], 0)[0].acts == row.acts and again.misses == 0  # reused
    fewer = PlantedTarget(planted.tokenizer, planted_features()[:3], model_name=planted.model_name)
    with pytest.raises(ValueError, match="another target.*use another output_dir"):
        MeasureCache(fewer, path)
