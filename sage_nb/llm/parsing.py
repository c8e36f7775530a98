"""Turn a reply's text into a validated pydantic object, and the prompt texts that ask for (or repair) JSON.

The reply is parsed as JSON and validated by the role's pydantic schema; nothing is pulled out of free text with
patterns. The one leniency: when the text is not JSON as a whole, the first JSON value inside a Markdown code fence
or after leading prose is decoded instead (small models and prompt-only servers add such wrappers).
:func:`parse_reply` never raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

#: Longest error text we keep or show the model in a repair turn.
MAX_ERROR_CHARS = 600
_MAX_ERRORS_LISTED = 5
_MAX_START_POSITIONS = 16


@dataclass
class Parsed(Generic[T]):
    """Outcome of :func:`parse_reply`: either ``value`` or ``error`` (with its kind) is set."""

    value: T | None = None
    error: str | None = None
    error_kind: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.value is not None


def _summarise_validation(err: ValidationError) -> str:
    parts = []
    for item in err.errors(include_url=False, include_input=False)[:_MAX_ERRORS_LISTED]:
        loc = ".".join(str(p) for p in item.get("loc", ())) or "(root)"
        parts.append(f"{loc}: {item.get('msg', 'invalid')}")
    more = err.error_count() - len(parts)
    if more > 0:
        parts.append(f"... and {more} more errors")
    return "; ".join(parts)[:MAX_ERROR_CHARS]


def _is_json_syntax_error(err: ValidationError) -> bool:
    return any(item.get("type") == "json_invalid" for item in err.errors(include_url=False, include_input=False))


def _embedded_json(text: str) -> Any:
    """Decode the first JSON object or array inside ``text`` (after a code fence or prose). Raises ValueError."""
    start = text.find("```")
    if start >= 0:
        body = text[start + 3 :]
        newline = body.find("\n")
        if newline >= 0 and body[:newline].strip().isidentifier():  # a language tag such as ```json
            body = body[newline + 1 :]
        end = body.find("```")
        candidate = body if end < 0 else body[:end]
        try:
            return json.loads(candidate)
        except (ValueError, RecursionError):
            pass
    decoder = json.JSONDecoder()
    for opener in ("{", "["):
        index = text.find(opener)
        for _ in range(_MAX_START_POSITIONS):  # bounded: garbage such as "[[[[..." must stay cheap
            if index < 0:
                break
            try:
                value, _ = decoder.raw_decode(text, index)
                return value
            except (ValueError, RecursionError):
                index = text.find(opener, index + 1)
    raise ValueError("no JSON value found")


def parse_reply(text: str | None, schema: type[T]) -> Parsed[T]:
    """Parse and validate a reply against ``schema``; never raises.

    ``error_kind`` is ``"empty"`` (no text), ``"not_json"`` (no JSON value found) or ``"invalid"`` (JSON that the
    schema rejects). Truncation is decided by the caller, which knows the finish reason.
    """
    if text is None or not isinstance(text, str) or not text.strip():
        return Parsed(error="the reply is empty", error_kind="empty")
    try:
        return Parsed(value=schema.model_validate_json(text))
    except ValidationError as err:
        if not _is_json_syntax_error(err):
            return Parsed(error=_summarise_validation(err), error_kind="invalid")
        first_error = f"not valid JSON: {_summarise_validation(err)}"
    except Exception as err:  # a hostile text must not crash the caller (e.g. lone surrogates)
        first_error = f"not valid JSON: {type(err).__name__}"
    try:
        value = _embedded_json(text)
    except Exception:
        return Parsed(error=first_error[:MAX_ERROR_CHARS], error_kind="not_json")
    try:
        return Parsed(value=schema.model_validate(value), notes=["JSON taken from inside surrounding text"])
    except ValidationError as err:
        return Parsed(error=_summarise_validation(err), error_kind="invalid")
    except Exception as err:
        return Parsed(error=f"validation failed: {type(err).__name__}", error_kind="invalid")


def _strip_titles(node: Any, in_properties: bool = False) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if not in_properties and key == "title" and isinstance(value, str):
                continue
            out[key] = _strip_titles(value, in_properties=(key in ("properties", "$defs") and not in_properties))
        return out
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def json_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """The pydantic JSON schema of ``schema`` (the form sent to servers and compiled into grammars)."""
    return schema.model_json_schema()


#: Tokens of JSON punctuation and whitespace allowed around each value in :func:`reply_token_bound`.
_VALUE_OVERHEAD = 4


def reply_token_bound(schema: type[BaseModel]) -> int | None:
    """The most tokens a reply that validates as ``schema`` can take when every character is its own token (how
    digits and odd text tokenise): string lengths, list sizes and key names from the schema, plus punctuation.

    A reply budget of at least this size never cuts a schema-constrained reply off. None when the schema bounds
    some string or list not (a free-form field).
    """
    root = json_schema(schema)
    defs = root.get("$defs", {})

    def bound(node: Any) -> int | None:
        if "$ref" in node:
            return bound(defs[node["$ref"].rsplit("/", 1)[-1]])
        if "anyOf" in node:
            parts = [bound(n) for n in node["anyOf"]]
            return None if None in parts else max(p for p in parts if p is not None)
        if "enum" in node or "const" in node:
            values = node.get("enum", [node.get("const")])
            return max(len(json.dumps(v)) for v in values) + _VALUE_OVERHEAD
        kind = node.get("type")
        if kind == "string":
            return None if "maxLength" not in node else node["maxLength"] + _VALUE_OVERHEAD
        if kind in ("integer", "number", "boolean", "null"):
            return 8 + _VALUE_OVERHEAD
        if kind == "array":
            item = bound(node.get("items", {}))
            return None if item is None or "maxItems" not in node else node["maxItems"] * item + _VALUE_OVERHEAD
        if kind == "object":
            total = _VALUE_OVERHEAD
            for key, value in node.get("properties", {}).items():
                inner = bound(value)
                if inner is None:
                    return None
                total += len(key) + 3 + inner
            return total
        return None

    return bound(root)


def compact_schema_text(schema: type[BaseModel]) -> str:
    """A short JSON rendering of the schema for prompts: no ``title`` keywords, no spaces."""
    return json.dumps(_strip_titles(json_schema(schema)), separators=(",", ":"), ensure_ascii=False)


def schema_instruction(schema: type[BaseModel]) -> str:
    """The sentence that asks for a JSON reply matching ``schema`` (added to the system message)."""
    return f"Reply with one JSON object and nothing else. It must match this JSON schema: {compact_schema_text(schema)}"


def repair_message(error: str) -> str:
    """The user turn that shows the model why its reply was rejected."""
    return (
        f"Your reply could not be used: {error[:MAX_ERROR_CHARS]}. "
        "Reply again with only the corrected JSON object that matches the schema."
    )
