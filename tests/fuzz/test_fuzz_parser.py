"""The event parser under mutated samples and raw bytes: it answers ApiCreated, Ignored or
MalformedEvent (with a short one-line reason), never anything else, and an ApiCreated always
carries an id that is safe in a URL."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from token_exchange_enabler.events import (
    ApiCreated,
    Ignored,
    MalformedEvent,
    log_id_of,
    parse_eventbridge_event,
    parse_log_record,
    parse_sqs_body,
    parse_sqs_record,
)

from tests.fuzz.strategies import fuzz_settings, mutated, raw_bodies, targeted

pytestmark = pytest.mark.fuzz
API_ID = re.compile(r"[0-9a-f]{24}")
LOG_ID = re.compile(r"[!-~]{1,128}")


def classify(parse, value):
    """The parser's answer, checked against its contract."""
    try:
        fact = parse(value)
    except MalformedEvent as error:
        assert isinstance(error.reason, str) and 0 < len(error.reason) <= 240
        assert error.reason.isprintable()  # one line: no body echoed with its newlines
        assert error.log_id is None or LOG_ID.fullmatch(error.log_id)
        return error
    assert isinstance(fact, ApiCreated | Ignored)
    if isinstance(fact, ApiCreated):
        assert API_ID.fullmatch(fact.api_id)  # the only id a URL is ever built from
        assert isinstance(fact.identifier, str) and fact.identifier
        assert LOG_ID.fullmatch(fact.log_id)
        assert isinstance(fact.is_system, bool)
    else:
        assert isinstance(fact.reason, str) and 0 < len(fact.reason) <= 300 and "\n" not in fact.reason
    return fact


def as_text(value) -> str | None:
    try:
        return json.dumps(value)
    except (ValueError, TypeError):
        return None


@fuzz_settings(4000)
@given(mutated())
def test_mutated_samples(event):
    """Samples with fields dropped, retyped or replaced, through every entry point."""
    results = [classify(parse_eventbridge_event, event)]
    text = as_text(event)
    if text is not None:
        results.append(classify(parse_sqs_body, text))
        results.append(classify(parse_sqs_body, text.encode("utf-8", "surrogatepass")))
        results.append(classify(parse_sqs_record, {"messageId": "m", "body": text, "eventSource": "aws:sqs"}))
        assert log_id_of({"body": text}) is None or LOG_ID.fullmatch(log_id_of({"body": text}))
    if isinstance(event, dict):
        results.append(classify(parse_log_record, event.get("detail")))
    assert log_id_of(event) is None or LOG_ID.fullmatch(log_id_of(event))
    # The same event read from an SQS body or delivered directly gets the same answer.
    if text is not None and isinstance(event, dict) and "detail-type" in event:
        assert type(results[0]) is type(results[1])


@fuzz_settings(2500)
@given(targeted())
def test_hostile_values_in_the_fields_that_decide(event):
    """Ids with '/', '..', '?', '#', unicode, huge strings and wrong types where the parser looks."""
    fact = classify(parse_eventbridge_event, event)
    body = event["detail"]["data"]["details"]["response"].get("body") if isinstance(
        event["detail"]["data"]["details"].get("response"), dict) else None
    if isinstance(fact, ApiCreated):
        assert fact.api_id == body["id"]
    assert type(classify(parse_sqs_body, json.dumps(event))) is type(fact)


@fuzz_settings(3000)
@given(raw_bodies())
def test_raw_bytes_as_an_sqs_body(body):
    classify(parse_sqs_body, body)
    text = body.decode("utf-8", "replace")
    classify(parse_sqs_body, text)
    classify(parse_sqs_record, {"messageId": "m", "body": text})
    assert log_id_of(body) is None or LOG_ID.fullmatch(log_id_of(body))


@fuzz_settings(500)
@given(st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(), st.none())))
def test_records_that_are_not_sqs_records(record):
    classify(parse_sqs_record, record)
