"""The real handler, in this process, against the Auth0 emulator and moto over HTTP, fed fuzzed SQS
batches (valid events of real APIs mixed with mutated samples, hostile ids and raw bodies) and
fuzzed direct EventBridge events.

Properties: the handler returns a dict; ``batchItemFailures`` only names records of the batch, and
with no fault injected it is empty (a malformed record is dead-lettered or ignored, it never fails
its batch, and the valid records beside it are enabled); no request is sent to a URL built from an
unencoded id (every URL requests sent is recorded at the transport adapter).
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests.adapters
from hypothesis import event, given
from hypothesis import strategies as st

from tests.fuzz.strategies import RAW_BODIES, fuzz_settings, mutated, targeted
from tests.integration.conftest import LambdaContext, sqs_record

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),  # a refused event
]
POOL = 12  # real APIs whose valid events are mixed into the batches
OBO = "on_behalf_of_token_exchange"
_LIST_ROUTES = {"/api/v2/resource-servers", "/api/v2/clients", "/api/v2/client-grants"}
_ID_ROUTE = re.compile(r"^/api/v2/(resource-servers|clients)/([^/]+)$")
# Characters SQS accepts in a message body (others are refused when the message is sent).
_SQS_TEXT = st.characters(codec="utf-8", exclude_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)])


def check_url(method: str, url: str) -> None:
    """The URL is one of the routes the product calls, its id segment exactly what segment() makes."""
    parts = urlsplit(url)
    assert parts.fragment == "" and "#" not in url, url
    path = parts.path
    if path == "/oauth/token":
        assert method == "POST" and not parts.query
        return
    if path in _LIST_ROUTES:
        return
    match = _ID_ROUTE.fullmatch(path)
    assert match, f"{method} {url}: not a route the product calls"
    segment = match.group(2)
    assert segment not in (".", "..") and "?" not in segment, url
    assert quote(unquote(segment), safe="") == segment, f"{url}: the id segment is not fully percent-encoded"
    assert not parts.query, url


@pytest.fixture
def fuzz_stack(stack, new_instance, monkeypatch):
    sent: list[tuple[str, str]] = []
    send = requests.adapters.HTTPAdapter.send

    def recording_send(adapter, request, *args, **kwargs):
        sent.append((request.method, request.url))
        return send(adapter, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", recording_send)
    pool = [stack.create_api(f"https://fuzz{i}.example.com", f"Fuzz {i}") for i in range(POOL)]
    module = new_instance()
    yield stack, module, pool, sent
    for method, url in sent:
        check_url(method, url)
    assert len(sent) > POOL  # the handler did talk to the emulator
    assert not [key for key in stack.emulator.counters if "unmatched" in key]
    for i in range(POOL):
        clients = [c for c in stack.emulator.clients if c.get("resource_server_identifier") == f"https://fuzz{i}.example.com"]
        assert len(clients) <= 1, f"second Custom API client for fuzz{i}"


def body_of(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


SQS_MAX_BODY = 256 * 1024  # what SQS accepts: a larger message never reaches the function


@st.composite
def bodies(draw, pool: list[dict]) -> tuple[str, str]:
    """(kind, SQS body): a valid event of a real API, a mutated or targeted one, or raw text."""
    kind, body = draw(_bodies(pool))
    return kind, body if len(body.encode()) <= SQS_MAX_BODY else body[: SQS_MAX_BODY // 4]


@st.composite
def _bodies(draw, pool: list[dict]) -> tuple[str, str]:
    kind = draw(st.sampled_from(["valid", "valid", "mutated-valid", "targeted-valid", "mutated", "text", "bytes"]))
    if kind == "valid":
        return kind, json.dumps(draw(st.sampled_from(pool)))
    if kind == "mutated-valid":
        return kind, body_of(draw(mutated(seed=draw(st.sampled_from(pool)), max_mutations=2)))
    if kind == "targeted-valid":
        event_ = json.loads(json.dumps(draw(st.sampled_from(pool))))
        hostile = draw(targeted())
        event_["detail"]["data"]["details"] = hostile["detail"]["data"]["details"]
        return kind, json.dumps(event_)
    if kind == "mutated":
        return kind, body_of(draw(mutated()))
    if kind == "text":
        return kind, draw(st.text(_SQS_TEXT, max_size=200))
    raw = draw(RAW_BODIES).decode("utf-8", "replace")
    return kind, "".join(ch if ch in "\t\n\r" or ord(ch) >= 32 else "?" for ch in raw)


@fuzz_settings(800)
@given(data=st.data())
def test_fuzzed_sqs_batches(fuzz_stack, data):
    stack, module, pool, _ = fuzz_stack
    records = data.draw(st.lists(bodies(pool), min_size=1, max_size=4), label="records")
    event_ = {"Records": []}
    for n, (kind, body) in enumerate(records):
        record = sqs_record({})
        record["body"], record["messageId"] = body, f"msg-{n}-{kind}"
        event_["Records"].append(record)
        event(kind)
    result = module.lambda_handler(event_, LambdaContext())
    assert isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list)
    ids = {r["messageId"] for r in event_["Records"]}
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    assert failed <= ids
    assert failed == set(), f"records failed with no fault injected: {sorted(failed)}"
    for kind, body in records:
        if kind == "valid":
            identifier = json.loads(body)["detail"]["data"]["details"]["response"]["body"]["identifier"]
            clients = [c for c in stack.emulator.clients if c.get("resource_server_identifier") == identifier]
            assert len(clients) == 1 and OBO in clients[0]["token_exchange"]["allow_any_profile_of_type"]


@fuzz_settings(250)
@given(data=st.data())
def test_fuzzed_direct_eventbridge_events(fuzz_stack, data):
    stack, module, pool, _ = fuzz_stack
    source = data.draw(st.sampled_from(["valid", "mutated-valid", "mutated"]))
    if source == "valid":
        incoming = data.draw(st.sampled_from(pool))
    elif source == "mutated-valid":
        incoming = data.draw(mutated(seed=data.draw(st.sampled_from(pool)), max_mutations=2))
    else:
        incoming = data.draw(mutated())
    event(source)
    try:
        result = module.lambda_handler(incoming, LambdaContext())
    except ValueError as error:  # neither an SQS batch nor an EventBridge event: refused as a whole
        assert str(error).startswith("unsupported event")
        assert not (isinstance(incoming, dict) and isinstance(incoming.get("detail-type"), str))
        event("refused: unsupported event")
        return
    assert isinstance(result, dict) and result.get("status") in (
        "enabled", "already_enabled", "skipped", "ignored", "dead_lettered")
    event(f"status: {result['status']}")
