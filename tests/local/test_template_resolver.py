"""local/template.py: parameters, rules, conditions and intrinsic functions, without AWS."""

from __future__ import annotations

from typing import Any

import pytest

from local.template import (
    CONDITION_FUNCTIONS,
    NO_VALUE,
    VALUE_FUNCTIONS,
    ParameterError,
    Resolver,
    TemplateError,
    UnsupportedTemplateError,
    creation_order,
    intrinsic,
    load_template,
    resolve_parameters,
)

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
        "Count": {"Type": "Number", "Default": 5, "MinValue": 1, "MaxValue": 10},
        "Name": {"Type": "String", "AllowedPattern": "^[a-z]+$", "ConstraintDescription": "lower-case letters"},
        "Items": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
    },
    "Mappings": {"Sizes": {"dev": {"Memory": 128}, "prod": {"Memory": 1024}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "DevWithFive": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Ref": "Count"}, 5]}]},
        "ProdOrFive": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["5", {"Ref": "Count"}]}]},
    },
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Policy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": "Queue"}], "Doc": {"Fn::Sub": "${Queue.Arn}"}},
        },
        "Rule": {"Type": "AWS::Events::Rule", "DependsOn": "Policy", "Properties": {}},
    },
}
RESOURCES = {("Queue", None): "https://queue.local/q", ("Queue", "Arn"): "arn:aws:sqs:us-east-1:1:q"}


def resolver(**parameters: Any) -> Resolver:
    values = resolve_parameters(TEMPLATE, {"Name": "local", **parameters})
    return Resolver(
        TEMPLATE,
        parameters=values,
        pseudo_parameters={"AWS::StackName": "demo", "AWS::Region": "us-east-1", "AWS::AccountId": "1"},
        resource_value=lambda logical_id, attribute: RESOURCES[(logical_id, attribute)],
    )


# --- parameters ---------------------------------------------------------------------------------


def test_parameters_take_defaults_and_are_text_as_cloudformation_passes_them():
    assert resolve_parameters(TEMPLATE, {"Name": "x", "Count": 7}) == {
        "Env": "dev",
        "Count": "7",
        "Name": "x",
        "Items": ["a", "b", "c"],
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"Name": "x", "Env": "test"}, r"Env='test' is not one of \['dev', 'prod'\]"),
        ({"Name": "x", "Count": 11}, "above the maximum 10"),
        ({"Name": "x", "Count": 0}, "below the minimum 1"),
        ({"Name": "x", "Count": "many"}, "not a number"),
        ({"Name": "Upper"}, r"does not match \^\[a-z\]\+\$ \(lower-case letters\)"),
        ({}, "Name has no default"),
        ({"Name": "x", "Other": "y"}, "unknown parameter"),
    ],
)
def test_parameter_constraints_are_enforced(given, message):
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(TEMPLATE, given)


def test_a_no_echo_value_never_appears_in_the_error():
    template = {"Parameters": {"Token": {"Type": "String", "NoEcho": True, "MinLength": 40}}}
    with pytest.raises(ParameterError) as caught:
        resolve_parameters(template, {"Token": "s3cr3t"})
    assert "s3cr3t" not in str(caught.value)
    assert "Token=****" in str(caught.value)


def test_rules_of_the_real_template_are_checked():
    template = load_template()
    values = resolve_parameters(
        template,
        {"TokenExchangeMode": "legacy_resource_server", "DownstreamGrants": "{\"https://x\": \"*\"}"},
        skip=frozenset({"Auth0Domain", "Auth0EventBusName", "Auth0CredentialsSecretArn"}),
    )
    with pytest.raises(ParameterError, match="DownstreamGrants applies only to TokenExchangeMode"):
        Resolver(template, parameters=values, pseudo_parameters={}).check_rules()


# --- conditions and intrinsic functions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, {"IsProd": False, "IsDev": True, "DevWithFive": True, "ProdOrFive": True}),
        ({"Env": "prod", "Count": 3}, {"IsProd": True, "IsDev": False, "DevWithFive": False, "ProdOrFive": True}),
        ({"Count": 3}, {"IsProd": False, "IsDev": True, "DevWithFive": False, "ProdOrFive": False}),
    ],
)
def test_conditions(parameters, expected):
    r = resolver(**parameters)
    assert {name: r.condition(name) for name in expected} == expected


def test_sub_with_parameters_pseudo_parameters_attributes_variables_and_literals():
    value = {
        "Fn::Sub": [
            "${AWS::StackName}-${Env}/${Queue.Arn}/${Queue}/${Extra}/${!Literal}",
            {"Extra": {"Ref": "Count"}},
        ]
    }
    assert resolver().resolve(value) == "demo-dev/arn:aws:sqs:us-east-1:1:q/https://queue.local/q/5/${Literal}"


def test_find_in_map_join_select_and_get_att_forms():
    r = resolver(Env="prod")
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Memory"]}) == 1024
    assert r.resolve({"Fn::Join": ["-", [{"Ref": "Env"}, "x", 3]]}) == "prod-x-3"
    assert r.resolve({"Fn::Select": [1, {"Ref": "Items"}]}) == "b"
    assert r.resolve({"Fn::Select": ["2", ["a", "b", "c"]]}) == "c"
    assert r.resolve({"Fn::GetAtt": "Queue.Arn"}) == r.resolve({"Fn::GetAtt": ["Queue", "Arn"]})


def test_if_and_no_value_drop_list_items_and_keys():
    value = {
        "Keep": {"Fn::If": ["IsDev", "dev-value", "prod-value"]},
        "Drop": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}, "c"],
    }
    assert resolver().resolve(value) == {"Keep": "dev-value", "List": ["a", "c"]}
    assert resolver().resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Fn::Base64": "x"}, r"Props\.Fn::Base64: Fn::Base64 is not supported by the local stack"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
        ({"Fn::Split": [",", "a,b"]}, "Fn::Split is not supported"),
        ({"Fn::Join": ["", [{"Fn::GetAZs": ""}]]}, r"Props\.Fn::Join\[1\]\[0\]\.Fn::GetAZs"),
        ({"Ref": "AWS::NotificationARNs"}, "pseudo parameter AWS::NotificationARNs is not supported"),
        ({"Fn::FindInMap": ["Sizes", "dev", "Memory", {"DefaultValue": 1}]}, "AWS::LanguageExtensions"),
    ],
)
def test_unsupported_functions_fail_loudly_with_where_they_are(value, message):
    with pytest.raises(UnsupportedTemplateError, match=message):
        resolver().resolve(value, "Props")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nowhere"}, "Nowhere is neither a parameter nor a resource"),
        ({"Fn::If": ["NoSuchCondition", 1, 2]}, "condition NoSuchCondition is not declared"),
        ({"Fn::FindInMap": ["Sizes", "test", "Memory"]}, r"no entry \['test'\]\['Memory'\]"),
        ({"Fn::Select": [5, ["a"]]}, "index 5 is outside"),
        ({"Fn::Sub": "${Items}"}, "is not a single value"),
    ],
)
def test_template_mistakes_are_reported(value, message):
    with pytest.raises(TemplateError, match=message):
        resolver().resolve(value)


def test_every_function_the_real_template_uses_is_supported():
    used: set[str] = set()

    def walk(value: Any) -> None:
        call = intrinsic(value)
        if call is not None:
            used.add(call[0])
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    template = load_template()
    for section in ("Rules", "Conditions", "Globals", "Resources"):
        walk(template.get(section, {}))
    assert used <= VALUE_FUNCTIONS | CONDITION_FUNCTIONS


# --- ordering -----------------------------------------------------------------------------------


def test_resources_come_after_what_they_refer_to():
    assert creation_order(TEMPLATE["Resources"]) == ["Queue", "Policy", "Rule"]
    assert creation_order(dict(reversed(TEMPLATE["Resources"].items()))) == ["Queue", "Policy", "Rule"]


def test_circular_references_are_reported():
    resources = {
        "A": {"Type": "X", "Properties": {"P": {"Ref": "B"}}},
        "B": {"Type": "X", "Properties": {"P": {"Fn::GetAtt": ["A", "Arn"]}}},
    }
    with pytest.raises(TemplateError, match=r"circular references between resources \['A', 'B'\]"):
        creation_order(resources)
