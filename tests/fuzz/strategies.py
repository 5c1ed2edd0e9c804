"""Hypothesis strategies for the fuzz suite, built from real samples.

The seeds are the repository's sample events (``events/``) and its public samples
(``samples/``: EventBridge envelopes, log-stream records, a recorded
``POST /api/v2/resource-servers`` answer). :func:`mutated` takes a seed and applies a few
mutations anywhere in its JSON tree — drop a field, give it another JSON type, replace it with a
hostile string (ids with ``/``, ``..``, ``?``, ``#``, ``%2F``, unicode, control characters, huge
strings) — and :func:`targeted` aims the same at the fields the parser decides on.
"""

from __future__ import annotations

import copy
import json
import os
from functools import cache
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from tests.conftest import EVENTS_DIR, load_sample

PROFILE = os.environ.get("FUZZ_PROFILE", "fuzz-ci")
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> settings:
    """The active profile (tests/fuzz/conftest.py) with ``examples`` x FUZZ_SCALE examples."""
    return settings(settings.get_profile(PROFILE), max_examples=max(1, int(examples * SCALE)))


# --------------------------------------------------------------------------- seeds


@cache
def seeds() -> tuple[dict, ...]:
    """EventBridge events: every sample, plus each log-stream record wrapped as EventBridge does."""
    found: list[dict] = []
    for path in sorted(EVENTS_DIR.glob("*.eventbridge.json")):
        found.append(json.loads(path.read_text(encoding="utf-8")))
    for path in sorted(EVENTS_DIR.glob("*.sqs.json")):
        for record in json.loads(path.read_text(encoding="utf-8"))["Records"]:
            try:
                body = json.loads(record["body"])
            except ValueError:
                continue
            if isinstance(body, dict):
                found.append(body)
    envelope = found[0]
    for name in ("eventbridge-auth0-log-console-sample-sapi.json", "eventbridge-auth0-log-real-login-s.json"):
        found.append(load_sample(name))
    for record in load_sample("logstream-sapi-samples.elastic-integrations.json"):
        found.append({**copy.deepcopy(envelope), "detail": record})
    # The real 201 answer as the response body of an "API created" event.
    recording = load_sample("mgmt-api-post-resource-servers-201.go-auth0-recording.json")
    event = copy.deepcopy(api_created_seed())
    event["detail"]["data"]["details"]["response"]["body"] = recording["response"]["body"]
    found.append(event)
    return tuple(found)


@cache
def api_created_seed() -> dict:
    return json.loads((EVENTS_DIR / "api-created.eventbridge.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- hostile values

EVIL_IDS = ["", ".", "..", "../", "../..", "/", "//", "?", "#", "%2F", "%2e%2e", "..%2F..%2Fclients",
            "../clients/abc", "a/b", "x?y=1", "x#frag", "6b1fe07da0f5b2d35c5c011/../x", "6b1fe07da0f5b2d35c5c0110",
            "66B1FE07DA0F5B2D35C5C011", " 66b1fe07da0f5b2d35c5c011", "66b1fe07da0f5b2d35c5c011\n",
            "６６b1fe07da0f5b2d35c5c011", "\u2215clients", "\u202e", "\x00", "\ud800", "null", "undefined",
            "https://evil.example/..%2F", "\r\nHost: evil.example", "%00", "~", "*", "{id}"]

_ALPHABET = st.characters(codec="utf-8", exclude_categories=()) | st.sampled_from(list("/.?#%&=+\\:@;,~ \t\r\n\x00"))


def hostile_strings() -> st.SearchStrategy[str]:
    """Ids and texts built to escape a URL segment, confuse a parser or exhaust a limit."""
    return _HOSTILE


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value (small trees), hostile strings included."""
    return _JSON_VALUES[max_leaves]


# Built once: a strategy built inside a composite on every draw costs milliseconds each time.
_HOSTILE = st.one_of(
        st.sampled_from(EVIL_IDS),
        st.text(_ALPHABET, max_size=40),
        st.lists(st.sampled_from(["..", ".", "/", "%2F", "?", "#", "a", "é", "\u0000", "66b1fe07"]), max_size=8)
        .map("".join),
        st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "é", "/", "0", "\u4e2d"]),
                  st.integers(1000, 300_000)),  # huge
        st.text("0123456789abcdef", min_size=23, max_size=25),  # almost an id
)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
                     _HOSTILE)
_JSON_VALUES = {
    leaves: st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=leaves)
    for leaves in (4, 8)
}
_MUTATIONS = st.sampled_from(["drop", "retype", "hostile", "hostile", "nest"])
_WRAPS = st.sampled_from([json.dumps, lambda v: [v], lambda v: {"value": v}])
_COUNT = st.integers(1, 4)
_RARE = st.integers(0, 19)
_ANY_VALUE = st.one_of(_HOSTILE, _JSON_VALUES[4])


# --------------------------------------------------------------------------- mutations


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a JSON tree (the root excluded)."""
    found: list[tuple] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found += _paths(child, (*prefix, index))
    return found


def _parent(tree: Any, path: tuple) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


@st.composite
def mutated(draw, seed: dict | None = None, max_mutations: int = 4) -> Any:
    """A seed event with 1..max_mutations random mutations anywhere in its tree."""
    tree = copy.deepcopy(seed if seed is not None else draw(_SEEDS))
    for _ in range(min(draw(_COUNT), max_mutations)):
        paths = _paths(tree)
        if not paths:
            break
        path = paths[draw(st.integers(0, len(paths) - 1))]
        parent = _parent(tree, path)
        operation = draw(_MUTATIONS)
        if operation == "drop":
            del parent[path[-1]]
        elif operation == "retype":
            parent[path[-1]] = draw(_JSON_VALUES[8])
        elif operation == "hostile":
            parent[path[-1]] = draw(_HOSTILE)
        else:  # the same node wrapped once more: a string where an object was, or a list
            parent[path[-1]] = draw(_WRAPS)(parent[path[-1]])
    if draw(_RARE) == 0:
        return draw(_JSON_VALUES[8])  # now and then, not an event at all
    return tree


TARGETS = [
    ("detail", "data", "details", "response", "body", "id"),
    ("detail", "data", "details", "response", "body", "identifier"),
    ("detail", "data", "details", "response", "body", "name"),
    ("detail", "data", "details", "response", "body", "is_system"),
    ("detail", "data", "details", "response", "statusCode"),
    ("detail", "data", "details", "request", "path"),
    ("detail", "data", "details", "request", "method"),
    ("detail", "data", "type"),
    ("detail", "log_id"),
    ("detail", "data", "log_id"),
    ("detail-type",),
]


@st.composite
def targeted(draw) -> dict:
    """An "API created" event with hostile values in the fields the parser decides on."""
    tree = copy.deepcopy(api_created_seed())
    for path in draw(_TARGET_LISTS):
        parent = _parent(tree, path)
        parent[path[-1]] = draw(_ANY_VALUE)
    return tree


_TARGET_LISTS = st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3, unique=True)


_SEEDS = st.sampled_from(seeds())


def raw_bodies() -> st.SearchStrategy[bytes]:
    """Raw bytes as an SQS body: random bytes, broken UTF-8, BOMs, truncated or deeply nested JSON."""
    sample = json.dumps(api_created_seed()).encode()
    return st.one_of(
        st.binary(max_size=300),
        st.builds(lambda n: sample[:n], st.integers(0, len(sample))),
        st.builds(lambda b: b"\xef\xbb\xbf" + b, st.binary(max_size=50)),
        st.builds(lambda n: b"[" * n + b"]" * n, st.integers(1, 200_000)),
        st.builds(lambda n: b'{"a":' * n + b"1" + b"}" * n, st.integers(1, 50_000)),
        st.sampled_from([b"", b"null", b"[]", b"{}", b'"text"', b"1e999999", b"\x00", b"\xff\xfe{\x00}\x00",
                         b'{"detail-type": "Auth0 log"}', b'{"data": null}', b'{"detail": []}']),
    )


RAW_BODIES = raw_bodies()
