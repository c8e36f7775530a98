"""The Neuronpedia client against a local server: batches, the disk cache, retries, errors, read-only, the key."""

from __future__ import annotations

import json

import httpx
import pytest
from fake_neuronpedia import BOS, DIGIT, MODEL, QUICK, SOURCE, WEEKDAY, free_port, tokenize

from sage_nb.targets.neuronpedia import (
    NeuronpediaAuthError,
    NeuronpediaClient,
    NeuronpediaNotFound,
    NeuronpediaRateLimited,
    NeuronpediaRequestError,
    NeuronpediaUnavailable,
    ReadOnlyViolation,
)
from sage_nb.targets.neuronpedia.client import MAX_BATCH_TEXTS, ROUTES, check_allowed, retry_after_seconds

TEXTS = [
    "See you on Monday.",
    "We met at noon.",
    "Friday was cold.",
    "call 555 0100",
    "the end of the road",
    "Sunday, at last.",
]
KEY = "np-test-secret-0123456789"


def posts(server):
    return server.requests("POST", "/api/activation/new")


# -- the two calls ----------------------------------------------------------------------------------------------------
def test_a_batch_is_sent_as_customtext_lists_of_at_most_four(server, client):
    rows = client.activations(MODEL, SOURCE, WEEKDAY, TEXTS)
    sent = posts(server)
    assert [len(h.body["customText"]) for h in sent] == [MAX_BATCH_TEXTS, len(TEXTS) - MAX_BATCH_TEXTS]
    assert [t for h in sent for t in h.body["customText"]] == TEXTS
    assert all(h.body["feature"] == {"modelId": MODEL, "source": SOURCE, "index": str(WEEKDAY)} for h in sent)
    assert all(h.body["ignoreBos"] is True for h in sent)
    assert [r["tokens"] for r in rows] == [tokenize(t) for t in TEXTS]  # in order, BOS left out by the server
    assert rows[0]["values"][tokenize(TEXTS[0]).index(" Monday")] == 8.0
    assert rows[3]["maxValue"] == 0.0


def test_repeated_texts_in_one_call_are_measured_once(server, client):
    rows = client.activations(MODEL, SOURCE, DIGIT, ["call 555", "call 555", "room 4"])
    assert [h.body["customText"] for h in posts(server)] == [["call 555", "room 4"]]
    assert rows[0] == rows[1] and len(rows) == 3


def test_feature_returns_the_stored_record(server, client):
    data = client.feature(MODEL, SOURCE, WEEKDAY)
    assert data["index"] == str(WEEKDAY) and data["activations"] and data["explanations"]
    assert [h.path for h in server.requests("GET")] == [f"/api/feature/{MODEL}/{SOURCE}/{WEEKDAY}"]


# -- the cache --------------------------------------------------------------------------------------------------------
def test_a_cache_hit_costs_no_request_even_in_a_new_client(server, client, tmp_path):
    first = client.activations(MODEL, SOURCE, WEEKDAY, TEXTS)
    feature = client.feature(MODEL, SOURCE, WEEKDAY)
    count = len(server.hits)
    assert client.activations(MODEL, SOURCE, WEEKDAY, TEXTS) == first
    assert client.feature(MODEL, SOURCE, WEEKDAY) == feature
    assert len(server.hits) == count and client.cache_hits == len(TEXTS) + 1

    with NeuronpediaClient(server.url, cache_dir=client.cache.folder, retry=QUICK) as fresh:
        assert fresh.activations(MODEL, SOURCE, WEEKDAY, list(reversed(TEXTS))) == list(reversed(first))
        assert fresh.feature(MODEL, SOURCE, WEEKDAY) == feature
        assert fresh.http_requests == 0
    assert len(server.hits) == count


def test_a_batch_sends_only_the_texts_not_yet_cached(server, client):
    client.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:2])
    client.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:3])
    assert [h.body["customText"] for h in posts(server)] == [TEXTS[:2], TEXTS[2:3]]


def test_cache_files_are_whole_json_keyed_by_request(server, client):
    client.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:2])
    files = client.cache.files()
    assert len(files) == 2 and not list(client.cache.folder.rglob("*.tmp"))
    entries = [json.loads(f.read_text()) for f in files]
    assert {e["request"]["body"]["customText"][0] for e in entries} == set(TEXTS[:2])
    assert all(set(e["request"]) == {"method", "url", "body"} for e in entries)  # no headers


def test_no_cache_means_every_call_is_sent(server, tmp_path):
    with NeuronpediaClient(server.url, use_cache=False, retry=QUICK) as c:
        c.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:1])
        c.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:1])
    assert len(posts(server)) == 2


# -- retries ----------------------------------------------------------------------------------------------------------
def test_429_is_retried_after_retry_after_then_succeeds(server, client, sleeps):
    server.fail_next(429, times=2, retry_after="1.5")
    rows = client.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:1])
    assert rows[0]["tokens"] == tokenize(TEXTS[0])
    assert sleeps == [1.5, 1.5] and len(posts(server)) == 3


def test_429_without_retry_after_backs_off_exponentially(server, client, sleeps):
    server.fail_next(429, times=2)
    client.feature(MODEL, SOURCE, WEEKDAY)
    assert sleeps == [QUICK.initial_delay_s, QUICK.initial_delay_s * QUICK.multiplier]


def test_a_retry_after_beyond_the_longest_wait_stops_at_once(server, client, sleeps):
    server.fail_next(429, retry_after="3600")
    with pytest.raises(NeuronpediaRateLimited, match="retry after 3600 s"):
        client.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:1])
    assert sleeps == [] and len(server.hits) == 1


def test_429_every_time_ends_in_a_rate_limit_error(server, client, sleeps):
    server.fail_next(429, times=QUICK.max_attempts)
    with pytest.raises(NeuronpediaRateLimited, match="1000 requests per 60 m"):
        client.activations(MODEL, SOURCE, WEEKDAY, TEXTS[:1])
    assert len(server.hits) == QUICK.max_attempts and len(sleeps) == QUICK.max_attempts - 1
    assert not client.cache.files()


def test_5xx_is_retried_and_a_lasting_one_is_reported(server, client, sleeps):
    server.fail_next(500)
    client.feature(MODEL, SOURCE, WEEKDAY)
    assert len(server.hits) == 2 and len(sleeps) == 1
    server.fail_next(503, times=QUICK.max_attempts)
    with pytest.raises(NeuronpediaUnavailable, match="HTTP 503"):
        client.feature(MODEL, SOURCE, DIGIT)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("2.5") == 2.5 and retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert retry_after_seconds("soon") is None


def test_the_hourly_activation_budget_is_enforced_by_the_client(server, tmp_path):
    now = [0.0]
    with NeuronpediaClient(server.url, cache_dir=tmp_path, retry=QUICK, activation_calls_per_hour=2,
                           clock=lambda: now[0]) as c:  # fmt: skip
        c.activations(MODEL, SOURCE, WEEKDAY, ["Monday"])
        c.activations(MODEL, SOURCE, WEEKDAY, ["Tuesday"])
        c.activations(MODEL, SOURCE, WEEKDAY, ["Monday"])  # cached: free
        with pytest.raises(NeuronpediaRateLimited, match="2 activation calls in the last hour"):
            c.activations(MODEL, SOURCE, WEEKDAY, ["Friday"])
        c.feature(MODEL, SOURCE, WEEKDAY)  # reading features is not an activation call
        now[0] = 3600.0
        c.activations(MODEL, SOURCE, WEEKDAY, ["Friday"])
    assert len(posts(server)) == 3


# -- clear errors -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", ["feature", "activations"])
def test_an_unknown_feature_is_a_404_naming_model_source_and_index(server, client, sleeps, call):
    with pytest.raises(NeuronpediaNotFound) as err:
        if call == "feature":
            client.feature(MODEL, SOURCE, 99999)
        else:
            client.activations(MODEL, SOURCE, 99999, ["Monday"])
    message = str(err.value)
    assert f"modelId={MODEL!r}" in message and f"source={SOURCE!r}" in message and "index=99999" in message
    assert isinstance(err.value, IndexError) and sleeps == [] and len(server.hits) == 1


def test_an_unknown_model_names_the_model(client):
    with pytest.raises(NeuronpediaNotFound, match="modelId='gpt-17'"):
        client.feature("gpt-17", SOURCE, 1)


def test_an_unreachable_server_is_a_clear_error(tmp_path, sleeps):
    url = f"http://127.0.0.1:{free_port()}"
    with NeuronpediaClient(url, cache_dir=tmp_path, retry=QUICK, sleep=sleeps.append) as c:
        with pytest.raises(NeuronpediaUnavailable, match="cannot reach http://127.0.0.1") as err:
            c.activations(MODEL, SOURCE, WEEKDAY, ["Monday"])
    assert "NEURONPEDIA_URL" in str(err.value) and isinstance(err.value, ConnectionError)
    assert len(sleeps) == QUICK.max_attempts - 1


def test_a_rejected_text_is_a_value_error_without_retries(server, client, sleeps):
    server.fail_next(400, body={"error": "Text too long: 5000 tokens, max is 256.0 for batch requests"})
    with pytest.raises(NeuronpediaRequestError, match="Text too long") as err:
        client.activations(MODEL, SOURCE, WEEKDAY, ["Monday"])
    assert isinstance(err.value, ValueError) and len(server.hits) == 1 and sleeps == []


def test_an_error_object_in_place_of_a_result_is_reported_and_not_cached(server, client):
    server.fail_next(200, body=[{"error": "inference host busy"}])
    with pytest.raises(NeuronpediaRequestError, match="could not measure a text: inference host busy"):
        client.activations(MODEL, SOURCE, WEEKDAY, ["Monday"])
    assert client.cache.files() == []
    assert client.activations(MODEL, SOURCE, WEEKDAY, ["Monday"])[0]["values"] == [8.0]


def test_a_refused_key_is_a_401_error_without_retries(server, client, sleeps):
    server.require_key = KEY
    with pytest.raises(NeuronpediaAuthError, match="HTTP 401.*export NEURONPEDIA_API_KEY"):
        client.feature(MODEL, SOURCE, WEEKDAY)
    assert len(server.hits) == 1 and sleeps == []


# -- the API key ------------------------------------------------------------------------------------------------------
def test_the_key_is_sent_as_a_header_and_stored_nowhere(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NEURONPEDIA_API_KEY", KEY)
    monkeypatch.setenv("NEURONPEDIA_URL", server.url)
    server.require_key = KEY
    from sage_nb.targets.neuronpedia import NeuronpediaTarget

    target = NeuronpediaTarget(MODEL, SOURCE, cache_dir=tmp_path / "cache", retry=QUICK, sleep=lambda s: None)
    assert target.client.base_url == server.url
    server.fail_next(500)  # a logged retry
    target.activations(TEXTS, WEEKDAY)
    target.feature_data(WEEKDAY)
    assert server.hits and all(h.headers.get("x-api-key") == KEY for h in server.hits)
    files = list((tmp_path / "cache").rglob("*"))
    assert files and all(KEY not in f.read_text() for f in files if f.is_file())
    assert KEY not in repr(target) and KEY not in repr(target.client) and KEY not in str(vars(target.client))
    assert "api_key=set" in repr(target.client)
    assert KEY not in caplog.text

    server.require_key = "another-key"
    with pytest.raises(NeuronpediaAuthError) as err:
        target.client.feature(MODEL, SOURCE, DIGIT)
    assert KEY not in str(err.value)


def test_without_a_key_no_key_header_is_sent(server, client):
    client.feature(MODEL, SOURCE, WEEKDAY)
    assert "x-api-key" not in server.hits[0].headers
    assert "api_key=not set" in repr(client)


# -- read-only --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/explanation/abc123/delete"),
        ("POST", "/api/explanation/new"),
        ("POST", "/api/explanation/abc123/vote"),
        ("POST", "/api/explanation/score"),
        ("POST", "/api/feature/upload-batch"),
        ("GET", "/api/explanation/export"),
        ("PUT", "/api/activation/new"),
        ("DELETE", f"/api/feature/{MODEL}/{SOURCE}/{WEEKDAY}"),
        ("POST", f"/api/feature/{MODEL}/{SOURCE}/{WEEKDAY}"),
        ("GET", "/api/activation/new/../../explanation/new"),
    ],
)
def test_only_the_allow_list_can_be_sent(server, client, method, path):
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        check_allowed(method, path)
    with pytest.raises(ReadOnlyViolation):
        client._send(method, path, {"description": "x"}, "test")
    with pytest.raises(ReadOnlyViolation):  # even bypassing the client's own methods, on its connection
        client._http.request(method, path, json={"description": "x"})
    assert server.hits == []


def test_the_allow_list_is_one_read_and_the_activation_post():
    assert [(r.method, r.pattern.pattern) for r in ROUTES] == [
        ("GET", r"/api/feature/[^/?#]+/[^/?#]+/\d+"),
        ("POST", r"/api/activation/new"),
    ]
    check_allowed("GET", f"/api/feature/{MODEL}/{SOURCE}/{WEEKDAY}")
    check_allowed("POST", "/api/activation/new")


def test_the_guard_sees_the_final_url_of_every_request(server, client):
    request = client._http.build_request("GET", f"/api/feature/{MODEL}/{SOURCE}/{WEEKDAY}")
    client._http.send(request)  # allowed
    request = client._http.build_request("POST", "/api/explanation/new")
    with pytest.raises(ReadOnlyViolation):
        client._http.send(request)
    assert [h.method for h in server.hits] == ["GET"]
    assert isinstance(client._http, httpx.Client)


def test_a_base_url_with_a_path_prefix_is_guarded_below_it(server, tmp_path):
    with NeuronpediaClient(server.url + "/np", cache_dir=tmp_path, retry=QUICK) as c:
        with pytest.raises(NeuronpediaNotFound):  # allowed and sent (the fake serves no /np prefix)
            c.feature(MODEL, SOURCE, WEEKDAY)
        with pytest.raises(ReadOnlyViolation):
            c._http.post("/api/explanation/new")
    assert [h.path for h in server.hits] == [f"/np/api/feature/{MODEL}/{SOURCE}/{WEEKDAY}"]


def test_a_redirect_is_not_followed_but_explained(server, client):
    server.fail_next(308, body={})
    with pytest.raises(NeuronpediaRequestError, match="HTTP 308 redirect"):
        client.feature(MODEL, SOURCE, WEEKDAY)


def test_a_bos_in_the_reply_is_dropped_when_the_server_keeps_it(server, client):
    """Servers without ``ignoreBos`` send the BOS token first; the target drops it."""
    from sage_nb.targets.neuronpedia.records import StoredActivation

    row = {"tokens": [BOS, "See", " you"], "values": [0.0, 1.0, 2.0]}
    act = StoredActivation.from_api(row, "See you")
    assert act.tokens == ["See", " you"] and act.values == [1.0, 2.0]
    shifted = {"tokens": [BOS, "See", " you"], "values": [1.0, 2.0]}  # the BOS value already dropped
    assert StoredActivation.from_api(shifted, "See you").tokens == ["See", " you"]
    kept = StoredActivation.from_api({"tokens": ["<b>", "old"], "values": [1.0, 2.0]}, "<b>old")
    assert kept.tokens == ["<b>", "old"]  # the text itself starts with it
