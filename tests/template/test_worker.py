"""template.yaml, the worker: the function that enables token exchange, its configuration contract,
and the state it keeps (log group, token cache secret, idempotency table)."""

from __future__ import annotations

import json

from tests.template.support import (
    EXPECTED_ENVIRONMENT,
    FUNCTION,
    LOG_GROUP,
    TABLE,
    TOKEN_CACHE,
    assert_log_group_of_the_stack,
    handler_arguments,
    props,
    ref,
    the_layer_id,
    variables_the_library_never_reads,
)

# --- the function ------------------------------------------------------------------------------


def test_function_runs_the_handler_on_arm64_python312_with_the_layer(sam_template, cfn_template):
    function = props(cfn_template, FUNCTION)
    assert function["Handler"] == "app.lambda_handler"
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["arm64"]
    assert function["MemorySize"] == ref("FunctionMemorySize")
    assert function["Layers"] == [ref(the_layer_id(cfn_template, "AWS::Lambda::LayerVersion"))]
    assert function["LoggingConfig"] == {"LogGroup": ref(LOG_GROUP)}
    # Tracing on <=> Powertools Tracer on.
    assert function["TracingConfig"] == {"Mode": {"Fn::If": ["TracingEnabled", "Active", "PassThrough"]}}
    assert function["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingEnabled", "false", "true"]
    }
    assert sam_template["Conditions"]["TracingEnabled"] == {"Fn::Equals": [ref("EnableTracing"), "true"]}


def test_handler_named_by_the_template_exists(sam_template):
    assert handler_arguments(sam_template, FUNCTION) == ["event", "context"]


def test_function_environment_is_the_configuration_contract(cfn_template):
    variables = props(cfn_template, FUNCTION)["Environment"]["Variables"]
    assert {name: variables.get(name) for name in EXPECTED_ENVIRONMENT} == EXPECTED_ENVIRONMENT
    assert set(variables) == set(EXPECTED_ENVIRONMENT) | {"POWERTOOLS_TRACE_DISABLED"}


def test_the_library_reads_every_variable_the_template_sets(cfn_template):
    assert variables_the_library_never_reads(cfn_template, FUNCTION) == []


# --- state and logs ----------------------------------------------------------------------------


def test_log_group_belongs_to_the_stack(cfn_template):
    assert_log_group_of_the_stack(cfn_template, LOG_GROUP)


def test_token_cache_secret_starts_empty(cfn_template):
    secret = props(cfn_template, TOKEN_CACHE)
    assert json.loads(secret["SecretString"]) == {}
    assert "do not edit" in secret["Description"].lower()


def test_idempotency_table_matches_powertools_defaults(cfn_template):
    table = props(cfn_template, TABLE)
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
