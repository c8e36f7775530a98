"""A local Neuronpedia for the tests: a threaded HTTP server on 127.0.0.1 with the real endpoints' shapes.

- ``GET /api/feature/{modelId}/{layer}/{index}``: the feature record (``activations[]`` strongest first, top ones
  with ``binMin == -1``, the others interval samples; ``explanations[]``, ``maxActApprox``, ``frac_nonzero``,
  ``pos_str``/``pos_values``, ``neg_str``/``neg_values``, histogram bars, ``source.saelensConfig``); an unknown
  feature is a 404 with ``{"error": ...}``.
- ``POST /api/activation/new`` with ``{"feature": {"modelId", "source", "index"}, "customText", "ignoreBos"}``: one
  result object for a string, a list of them for a list (at most 4 texts, as the inference server allows); each
  has ``tokens``, ``values``, ``maxValue``, ``minValue``, ``maxValueTokenIndex`` ..., BOS first unless ``ignoreBos``.
- Errors carry ``error`` and ``message``; 429 carries the rate limiter's fields. ``fail_next`` scripts faults;
  ``require_key`` makes a missing or wrong ``x-api-key`` a 401. Every request is recorded in ``hits``.

Features fire on words, like SAE features: :data:`WEEKDAY` on weekday names (the scripted agent's truthful
policy explains it), :data:`DIGIT` on digits.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sage_nb.llm import RetryPolicy

#: Client retries for the tests: 3 attempts, waits that are recorded, not slept (``sleep=list.append``).
QUICK = RetryPolicy(max_attempts=3, initial_delay_s=0.5, max_delay_s=10.0, jitter=0.0, timeout_s=2.0)
MODEL, SOURCE = "gemma-2-2b", "20-gemmascope-res-16k"
WEEKDAY, DIGIT, SILENT = 12, 7, 3
BOS = "<bos>"
NOT_FOUND = "The model, source, or feature you specified is not available."
SERVER_FAULT = "Something went wrong on our end. The error has been reported."
MAX_BATCH = 4

_TOKEN = re.compile(r" ?[^\W\d_]+| ?\d| ?[^\w\s]| ?_|\s")
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
_ABBREVIATIONS = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}


def tokenize(text: str) -> list[str]:
    """Words with their leading space, digits one by one, punctuation: joining the tokens gives the text."""
    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text, text
    return tokens


def weekday_rule(token: str) -> float:
    word = token.strip()
    if word.lower().rstrip("s") in _WEEKDAYS:
        return 8.0 if word[0].isupper() else 6.0
    return 4.0 if word in _ABBREVIATIONS else 0.0


def digit_rule(token: str) -> float:
    return 3.0 if token.strip().isdigit() else 0.0


def silent_rule(token: str) -> float:
    return 0.0


#: Contexts stored as a feature's top activations, and as samples from lower activation intervals.
WEEKDAY_TOP = [
    "The meeting moved from Monday to Friday because of the holiday.",
    "On Tuesday we walked to the market, and on Sunday we rested.",
    "Every Wednesday the library opens late; on Saturday it closes early.",
    "The report was due on Thursday; it arrived on Monday instead.",
    "See you on Friday at the station.",
]
WEEKDAY_SAMPLES = [
    "we usually shop on saturdays and rest on sundays.",
    "the market is closed on mondays in winter.",
    "Opening hours: Mon to Fri, nine to five.",
    "Deliveries arrive Tue and Thu before noon.",
    "the plan for friday is still open.",
    "Closed Sun and on public holidays.",
]
DIGIT_TOP = [
    "Call 555 0100 before 9 tonight.",
    "In 2024 the river rose by 12 feet.",
    "Flight 451 left at 7 sharp.",
]
DIGIT_SAMPLES = [
    "Room 4 is on the left.",
    "He counted 3 birds on the wire.",
]


@dataclass
class FakeFeature:
    """A feature of the fake server: its rule, stored contexts and stored explanations."""

    rule: Callable[[str], float]
    top: list[str]
    samples: list[str]
    explanations: list[str]
    pos: list[tuple[str, float]] = field(default_factory=list)
    neg: list[tuple[str, float]] = field(default_factory=list)

    def measure(self, text: str) -> tuple[list[str], list[float]]:
        """Tokens (BOS first, as the inference server prepends it) and activations."""
        tokens = tokenize(text)
        return [BOS, *tokens], [0.0, *(self.rule(t) for t in tokens)]


FEATURES: dict[int, FakeFeature] = {
    WEEKDAY: FakeFeature(
        weekday_rule,
        WEEKDAY_TOP,
        WEEKDAY_SAMPLES,
        ["names of the days of the week", "calendar words"],
        pos=[(" Monday", 0.91), (" Friday", 0.88), (" weekend", 0.5)],
        neg=[(" the", -0.31), (" of", -0.2)],
    ),
    DIGIT: FakeFeature(digit_rule, DIGIT_TOP, DIGIT_SAMPLES, ["digits in numbers"]),
    SILENT: FakeFeature(silent_rule, [], [], []),
}


@dataclass
class Hit:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    status: int
    retry_after: str | None = None
    body: Any = None  # None: the server's usual error body for the status


def _activation(values: list[float], tokens: list[str], feature: int, index: int | None) -> dict[str, Any]:
    top = max(values)
    return {
        "id": f"act-{feature}-{index}",
        "tokens": tokens,
        "dataIndex": str(index) if index is not None else None,
        "index": str(feature),
        "layer": SOURCE,
        "modelId": MODEL,
        "dataSource": "Neuronpedia",
        "maxValue": top,
        "maxValueTokenIndex": values.index(top),
        "minValue": min(values),
        "values": values,
        "dfaValues": [],
        "dfaTargetIndex": None,
        "dfaMaxValue": None,
        "creatorId": "clsxqq2xd0000vvp2k5itlhqj",
        "createdAt": "2024-07-30T00:00:00.000Z",
        "lossValues": [],
        "logitContributions": None,
        "qualifyingTokenIndex": None,
    }


def feature_record(index: int, spec: FakeFeature) -> dict[str, Any]:
    """The feature as ``GET /api/feature/...`` returns it."""
    acts = []
    for n, text in enumerate(spec.top):
        tokens, values = spec.measure(text)
        acts.append(_activation(values, tokens, index, n) | {"binMin": -1, "binMax": -1, "binContains": -1})
    top = max((a["maxValue"] for a in acts), default=0.0)
    for n, text in enumerate(spec.samples, start=len(spec.top)):
        tokens, values = spec.measure(text)
        lo = 0.5 * top if max(values) > 0.5 * top else 0.0
        acts.append(
            _activation(values, tokens, index, n) | {"binMin": lo, "binMax": lo + 0.5 * top, "binContains": 0.1}
        )
    acts.sort(key=lambda a: a["maxValue"], reverse=True)
    return {
        "modelId": MODEL,
        "layer": SOURCE,
        "index": str(index),
        "sourceSetName": "gemmascope-res-16k",
        "creatorId": "clsxqq2xd0000vvp2k5itlhqj",
        "createdAt": "2024-07-30T00:00:00.000Z",
        "maxActApprox": top,
        "hasVector": False,
        "vector": [],
        "vectorLabel": None,
        "vectorDefaultSteerStrength": 10,
        "hookName": None,
        "topkCosSimIndices": [],
        "topkCosSimValues": [],
        "neuron_alignment_indices": [],
        "neuron_alignment_values": [],
        "neuron_alignment_l1": [],
        "correlated_neurons_indices": [],
        "correlated_neurons_pearson": [],
        "correlated_neurons_l1": [],
        "correlated_features_indices": [],
        "correlated_features_pearson": [],
        "correlated_features_l1": [],
        "neg_str": [s for s, _ in spec.neg],
        "neg_values": [v for _, v in spec.neg],
        "pos_str": [s for s, _ in spec.pos],
        "pos_values": [v for _, v in spec.pos],
        "frac_nonzero": 0.0021 if acts else 0.0,
        "freq_hist_data_bar_heights": [40, 12, 5] if acts else [],
        "freq_hist_data_bar_values": [2.0, 4.0, 6.0] if acts else [],
        "logits_hist_data_bar_heights": [],
        "logits_hist_data_bar_values": [],
        "decoder_weights_dist": [],
        "umap_cluster": None,
        "umap_log_feature_sparsity": None,
        "umap_x": None,
        "umap_y": None,
        "model": {
            "id": MODEL,
            "displayName": "Gemma 2 2B",
            "layers": 26,
            "neuronsPerLayer": 9216,
            "inferenceEnabled": True,
            "visibility": "PUBLIC",
        },
        "lists": [],
        "creator": {"name": "neuronpedia"},
        "source": {
            "id": SOURCE,
            "modelId": MODEL,
            "setName": "gemmascope-res-16k",
            "inferenceEnabled": True,
            "visibility": "PUBLIC",
            "saelensRelease": "gemma-scope-2b-pt-res-canonical",
            "saelensSaeId": "layer_20/width_16k/canonical",
            "saelensConfig": {"d_in": 2304, "d_sae": 16384, "hook_name": "blocks.20.hook_resid_post"},
        },
        "sourceSet": {"modelId": MODEL, "name": "gemmascope-res-16k", "type": "sae"},
        "comments": [],
        "activations": acts,
        "explanations": [
            {
                "id": f"exp-{index}-{n}",
                "description": text,
                "explanationModelName": "gpt-4o-mini",
                "typeName": "oai_token-act-pair",
                "scores": [],
                "triggeredByUser": None,
            }
            for n, text in enumerate(spec.explanations)
        ],
    }


class FakeNeuronpedia:
    """The server: ``url`` to point a client at, ``hits`` to see what it received, ``fail_next`` for faults."""

    def __init__(self, features: dict[int, FakeFeature] | None = None) -> None:
        self.features = dict(FEATURES if features is None else features)
        self.hits: list[Hit] = []
        self.faults: deque[Fault] = deque()
        self.require_key: str | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None, body: Any = None) -> None:
        """Answer the next ``times`` requests with ``status`` (a ``Retry-After`` header and ``body`` when given)."""
        with self._lock:
            self.faults.extend(Fault(status, retry_after, body) for _ in range(times))

    def requests(self, method: str | None = None, prefix: str = "") -> list[Hit]:
        """The requests received (of ``method``, with paths starting with ``prefix``)."""
        with self._lock:
            return [h for h in self.hits if (method is None or h.method == method) and h.path.startswith(prefix)]

    # -- answering ---------------------------------------------------------------------------------------------------
    def answer(self, hit: Hit) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.hits.append(hit)
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            return self._fault(fault)
        if self.require_key is not None and hit.headers.get("x-api-key") != self.require_key:
            message = "You do not have access to this model or source. Specify a valid API key in x-api-key."
            return 401, {}, {"error": message, "message": message}
        parts = hit.path.strip("/").split("/")
        if hit.method == "GET" and len(parts) == 5 and parts[:2] == ["api", "feature"]:
            return self._feature(parts[2], parts[3], parts[4])
        if hit.method == "POST" and hit.path == "/api/activation/new":
            return self._activation_new(hit.body)
        return 404, {}, {"error": "Not found", "message": "Not found"}

    def _known(self, model: str, source: str, index: str) -> FakeFeature | None:
        if model != MODEL or source != SOURCE or not index.isdigit():
            return None
        return self.features.get(int(index))

    def _feature(self, model: str, source: str, index: str) -> tuple[int, dict[str, str], Any]:
        spec = self._known(model, source, index)
        if spec is None:
            return 404, {}, {"error": NOT_FOUND}
        return 200, {}, feature_record(int(index), spec)

    def _activation_new(self, body: Any) -> tuple[int, dict[str, str], Any]:
        feature = (body or {}).get("feature") or {}
        text = (body or {}).get("customText")
        if not feature.get("modelId") or not feature.get("source") or not feature.get("index") or not text:
            return 500, {}, {"error": SERVER_FAULT, "message": SERVER_FAULT}  # the route throws on bad input
        spec = self._known(feature["modelId"], feature["source"], str(feature["index"]))
        if spec is None:
            return 404, {}, {"message": "Feature not found."}
        texts = text if isinstance(text, list) else [text]
        if len(texts) > MAX_BATCH:
            message = f"Batch size {len(texts)} exceeds maximum of {MAX_BATCH}"
            return 400, {}, {"error": message, "message": message}
        results = []
        for t in texts:
            tokens, values = spec.measure(t)
            if body.get("ignoreBos") is True:
                tokens, values = tokens[1:], values[1:]
            result = _activation(values, tokens, int(feature["index"]), None)
            results.append({k: result[k] for k in ("tokens", "values", "maxValue", "minValue", "modelId", "layer",
                                                   "index", "dataIndex", "dataSource", "maxValueTokenIndex",
                                                   "createdAt")} | {"creatorId": ""})  # fmt: skip
        return 200, {}, results if isinstance(text, list) else results[0]

    def _fault(self, fault: Fault) -> tuple[int, dict[str, str], Any]:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        if fault.body is not None:
            return fault.status, headers, fault.body
        if fault.status == 429:
            error = ("Rate limit exceeded for this endpoint. The limit for this endpoint (/api/activation/new) is "
                     "1000 requests per 60 m.")  # fmt: skip
            body = {"endpoint": "/api/activation/new", "limitPerWindow": 1000, "requestWindow": "60 m",
                    "remainingRequests": 0, "error": error}  # fmt: skip
            return 429, headers, body
        message = SERVER_FAULT if fault.status >= 500 else f"HTTP {fault.status}"
        return fault.status, headers, {"error": message, "message": message}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                hit = Hit(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, headers, payload = server.answer(hit)
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        return Handler


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
