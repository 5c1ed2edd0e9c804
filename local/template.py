"""template.yaml read the way CloudFormation reads it: parameters, rules, conditions, intrinsics.

The local stack is built from the deployed template, not from a copy of it, so this module
evaluates exactly what that template uses and refuses everything else loudly
(:class:`UnsupportedTemplateError`): a template change the local stack cannot follow must fail
the local stack, never be silently ignored.

Supported:

* parameters of type ``String``, ``Number`` and ``CommaDelimitedList`` with their defaults and
  constraints (``AllowedValues``, ``AllowedPattern``, ``MinValue``/``MaxValue``,
  ``MinLength``/``MaxLength``); values are strings, as CloudFormation passes them;
* ``Rules`` (``RuleCondition``/``Assertions``) and ``Conditions`` with ``Fn::Equals``,
  ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and ``Condition``;
* ``Ref`` (parameters, pseudo parameters, resources, ``AWS::NoValue``), ``Fn::Sub`` (both
  forms, ``${!Literal}``), ``Fn::GetAtt`` (list and dotted forms), ``Fn::FindInMap`` (three
  arguments), ``Fn::If``, ``Fn::Join`` and ``Fn::Select``.

Resources are not known here: the caller supplies their values (``resource_value``), so the
same resolver serves any way of creating them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = ROOT / "template.yaml"


class _NoValue:
    """What ``Ref: AWS::NoValue`` resolves to: the enclosing key or list item is dropped."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

PARAMETER_TYPES = frozenset({"String", "Number", "CommaDelimitedList"})
CONDITION_FUNCTIONS = frozenset({"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"})
VALUE_FUNCTIONS = frozenset(
    {"Ref", "Fn::Sub", "Fn::GetAtt", "Fn::FindInMap", "Fn::If", "Fn::Join", "Fn::Select"}
)

# "${Name}", "${Resource.Attribute}" or "${!Literal}" in an Fn::Sub string.
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

ResourceValue = Callable[[str, str | None], Any]
"""``resource_value(logical_id, attribute)``: a resource's ``Ref`` (attribute None) or attribute."""


class TemplateError(Exception):
    """The template is invalid, or asks for something this resolver cannot give."""


class UnsupportedTemplateError(TemplateError):
    """The template uses a function, type or property the local stack does not implement."""


class ParameterError(TemplateError, ValueError):
    """A parameter value CloudFormation would refuse (or a rule assertion that fails)."""


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts and lists, short-form intrinsics (!Ref, !Sub...) expanded."""
    from cfnlint.decode import cfn_yaml

    # A JSON round trip drops cfn-lint's position-tracking node types.
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """``(function name, argument)`` if ``value`` is an intrinsic function call, else None."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" or key.startswith("Fn::"):
            return key, argument
    return None


def scalar_text(value: Any) -> str:
    """A scalar as CloudFormation passes it to a resource: text, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TemplateError(f"expected a scalar value, got {value!r}")


# --- parameters --------------------------------------------------------------------------------


def resolve_parameters(
    template: Mapping[str, Any], given: Mapping[str, Any], *, skip: frozenset[str] = frozenset()
) -> dict[str, str | list[str]]:
    """Template defaults overlaid with ``given``, checked as CloudFormation checks them.

    Names in ``skip`` are neither required nor checked here (the caller provides and checks them
    later with :func:`check_parameter`).
    """
    declared: Mapping[str, Any] = template.get("Parameters", {})
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; the template declares {sorted(declared)}")
    values: dict[str, str | list[str]] = {}
    for name, spec in declared.items():
        if name in skip:
            continue
        if name in given:
            raw = given[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise ParameterError(f"parameter {name} has no default and no value was given")
        values[name] = check_parameter(template, name, raw)
    return values


def check_parameter(template: Mapping[str, Any], name: str, raw: Any) -> str | list[str]:
    """The value of parameter ``name`` as Ref returns it, or ParameterError naming the constraint."""
    spec = template["Parameters"][name]
    kind = spec.get("Type")
    if kind not in PARAMETER_TYPES:
        raise UnsupportedTemplateError(f"parameter {name}: type {kind!r} is not supported locally")
    if kind == "CommaDelimitedList":
        items = raw if isinstance(raw, list) else scalar_text(raw).split(",")
        value: str | list[str] = [scalar_text(item).strip() for item in items]
        for item in value:
            _check_constraints(name, spec, item)
        return value
    text = scalar_text(raw)
    _check_constraints(name, spec, text)
    return text


def _check_constraints(name: str, spec: Mapping[str, Any], text: str) -> None:
    def fail(problem: str) -> NoReturn:
        shown = "****" if scalar_text(spec.get("NoEcho", False)).lower() == "true" else repr(text)
        hint = spec.get("ConstraintDescription")
        raise ParameterError(f"parameter {name}={shown} {problem}" + (f" ({hint})" if hint else ""))

    if "AllowedValues" in spec and text not in [scalar_text(v) for v in spec["AllowedValues"]]:
        fail(f"is not one of {[scalar_text(v) for v in spec['AllowedValues']]}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], text):
        fail(f"does not match {spec['AllowedPattern']}")
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        fail(f"is shorter than {spec['MinLength']} characters")
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        fail(f"is longer than {spec['MaxLength']} characters")
    if spec.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError:
            fail("is not a number")
        if "MinValue" in spec and number < float(spec["MinValue"]):
            fail(f"is below the minimum {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            fail(f"is above the maximum {spec['MaxValue']}")


# --- the resolver ------------------------------------------------------------------------------


class Resolver:
    """Evaluates conditions and intrinsic functions of one template with given values.

    ``resource_value(logical_id, attribute)`` answers ``Ref`` (attribute None) and
    ``Fn::GetAtt`` for resources; it is asked only for logical ids the template declares.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        parameters: Mapping[str, str | list[str]],
        pseudo_parameters: Mapping[str, str],
        resource_value: ResourceValue | None = None,
    ):
        self.template = template
        self.parameters = parameters
        self.pseudo_parameters = pseudo_parameters
        self._resource_value = resource_value
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # -- conditions and rules --

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name in self._conditions:
            return self._conditions[name]
        declared = self.template.get("Conditions", {})
        if name not in declared:
            raise TemplateError(f"condition {name} is not declared in Conditions")
        if name in self._evaluating:
            raise TemplateError(f"condition {name} refers to itself")
        self._evaluating.add(name)
        try:
            value = self.evaluate_condition(declared[name], f"Conditions.{name}")
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = value
        return value

    def evaluate_condition(self, expression: Any, path: str) -> bool:
        """A condition expression (Fn::Equals/Not/And/Or, Condition) to a boolean."""
        if isinstance(expression, dict) and set(expression) == {"Condition"}:
            return self.condition(expression["Condition"])
        call = intrinsic(expression)
        if call is None:
            raise TemplateError(f"{path}: expected a condition function, got {expression!r}")
        function, argument = call
        if function not in CONDITION_FUNCTIONS:
            raise UnsupportedTemplateError(
                f"{path}: {function} is not supported in a condition locally "
                f"(supported: {', '.join(sorted(CONDITION_FUNCTIONS))})"
            )
        arguments = _arguments(function, argument, path)
        if function == "Fn::Equals":
            if len(arguments) != 2:
                raise TemplateError(f"{path}: Fn::Equals takes two values")
            left, right = (self.resolve(value, f"{path}.Fn::Equals[{i}]") for i, value in enumerate(arguments))
            return _comparable(left) == _comparable(right)
        results = [self.evaluate_condition(item, f"{path}.{function}[{i}]") for i, item in enumerate(arguments)]
        if function == "Fn::Not":
            if len(results) != 1:
                raise TemplateError(f"{path}: Fn::Not takes one condition")
            return not results[0]
        return all(results) if function == "Fn::And" else any(results)

    def check_rules(self) -> None:
        """Raise ParameterError for the first rule assertion that fails, as CloudFormation does."""
        for name, rule in self.template.get("Rules", {}).items():
            path = f"Rules.{name}"
            if "RuleCondition" in rule and not self.evaluate_condition(rule["RuleCondition"], f"{path}.RuleCondition"):
                continue
            for i, assertion in enumerate(rule.get("Assertions", [])):
                if not self.evaluate_condition(assertion["Assert"], f"{path}.Assertions[{i}]"):
                    reason = assertion.get("AssertDescription", "assertion failed")
                    raise ParameterError(f"rule {name}: {reason}")

    # -- values --

    def resolve(self, value: Any, path: str = "") -> Any:
        """``value`` with every intrinsic function evaluated; may return :data:`NO_VALUE`."""
        call = intrinsic(value)
        if call is not None:
            return self._call(*call, path)
        if isinstance(value, dict):
            resolved = {key: self.resolve(item, f"{path}.{key}") for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            items = (self.resolve(item, f"{path}[{i}]") for i, item in enumerate(value))
            return [item for item in items if item is not NO_VALUE]
        return value

    def _call(self, function: str, argument: Any, path: str) -> Any:
        where = f"{path}.{function}" if path else function
        if function not in VALUE_FUNCTIONS:
            raise UnsupportedTemplateError(
                f"{where}: {function} is not supported by the local stack "
                f"(supported: {', '.join(sorted(VALUE_FUNCTIONS))}); extend local/template.py"
            )
        handler = {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::FindInMap": self._find_in_map,
            "Fn::If": self._if,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
        }[function]
        return handler(argument, where)

    def _ref(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"{where}: Ref takes a name, got {name!r}")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name.startswith("AWS::"):
            if name not in self.pseudo_parameters:
                raise UnsupportedTemplateError(f"{where}: pseudo parameter {name} is not supported locally")
            return self.pseudo_parameters[name]
        if name in self.template.get("Parameters", {}):
            if name not in self.parameters:
                raise TemplateError(f"{where}: parameter {name} has no value")
            return self.parameters[name]
        return self._resource(name, None, where)

    def _get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        elif isinstance(argument, list) and len(argument) == 2:
            logical_id, attribute = argument
        else:
            raise TemplateError(f"{where}: Fn::GetAtt takes [LogicalId, Attribute], got {argument!r}")
        if not isinstance(logical_id, str) or not isinstance(attribute, str) or not attribute:
            raise UnsupportedTemplateError(f"{where}: only literal Fn::GetAtt names are supported, got {argument!r}")
        return self._resource(logical_id, attribute, where)

    def _resource(self, logical_id: str, attribute: str | None, where: str) -> Any:
        if logical_id not in self.template.get("Resources", {}):
            raise TemplateError(f"{where}: {logical_id} is neither a parameter nor a resource")
        if self._resource_value is None:
            raise TemplateError(f"{where}: resource {logical_id} has no value here")
        return self._resource_value(logical_id, attribute)

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
            text, variables = argument[0], self.resolve(argument[1], f"{where}[1]")
        else:
            raise TemplateError(f"{where}: Fn::Sub takes a string or [string, {{variables}}]")

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self._resource(logical_id, attribute, where)
            else:
                value = self._ref(name, where)
            if isinstance(value, list) or value is NO_VALUE:
                raise TemplateError(f"{where}: ${{{name}}} is not a single value")
            return scalar_text(value)

        return _SUB_VARIABLE.sub(substitute, text)

    def _find_in_map(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3:
            raise UnsupportedTemplateError(
                f"{where}: Fn::FindInMap takes [map, top-level key, second-level key] "
                "(a default value needs AWS::LanguageExtensions, not supported locally)"
            )
        map_name, top, second = (scalar_text(self.resolve(item, f"{where}[{i}]")) for i, item in enumerate(argument))
        mapping = self.template.get("Mappings", {}).get(map_name)
        if mapping is None:
            raise TemplateError(f"{where}: mapping {map_name} is not declared in Mappings")
        try:
            return mapping[top][second]
        except KeyError:
            raise TemplateError(f"{where}: mapping {map_name} has no entry [{top!r}][{second!r}]") from None

    def _if(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 3 or not isinstance(argument[0], str):
            raise TemplateError(f"{where}: Fn::If takes [condition name, value if true, value if false]")
        chosen = 1 if self.condition(argument[0]) else 2
        return self.resolve(argument[chosen], f"{where}[{chosen}]")

    def _join(self, argument: Any, where: str) -> str:
        if not isinstance(argument, list) or len(argument) != 2 or not isinstance(argument[0], str):
            raise TemplateError(f"{where}: Fn::Join takes [delimiter, [values]]")
        items = self.resolve(argument[1], f"{where}[1]")
        if not isinstance(items, list):
            raise TemplateError(f"{where}: Fn::Join needs a list of values, got {items!r}")
        return argument[0].join(scalar_text(item) for item in items)

    def _select(self, argument: Any, where: str) -> Any:
        if not isinstance(argument, list) or len(argument) != 2:
            raise TemplateError(f"{where}: Fn::Select takes [index, [values]]")
        index = int(scalar_text(self.resolve(argument[0], f"{where}[0]")))
        items = self.resolve(argument[1], f"{where}[1]")
        if not isinstance(items, list) or not 0 <= index < len(items):
            raise TemplateError(f"{where}: index {index} is outside {items!r}")
        return items[index]


def _arguments(function: str, argument: Any, path: str) -> list[Any]:
    if function == "Condition":
        return [argument]
    if not isinstance(argument, list):
        raise TemplateError(f"{path}: {function} takes a list, got {argument!r}")
    return argument


def _comparable(value: Any) -> Any:
    return [scalar_text(item) for item in value] if isinstance(value, list) else scalar_text(value)


# --- references between resources ---------------------------------------------------------------


def referenced_resources(value: Any, resource_ids: frozenset[str] | set[str]) -> Iterator[str]:
    """Logical ids of resources that ``value`` refers to (Ref, Fn::GetAtt, Fn::Sub), in order."""
    call = intrinsic(value)
    if call is not None:
        function, argument = call
        if function == "Ref" and argument in resource_ids:
            yield argument
        elif function == "Fn::GetAtt":
            name = argument.partition(".")[0] if isinstance(argument, str) else argument[0]
            if name in resource_ids:
                yield name
        elif function == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            local_names = set(argument[1]) if isinstance(argument, list) and isinstance(argument[1], dict) else set()
            for match in _SUB_VARIABLE.finditer(text):
                name = match.group(1).strip().split(".", 1)[0]
                if name in resource_ids and name not in local_names:
                    yield name
        if function != "Ref":
            yield from referenced_resources(argument, resource_ids)
    elif isinstance(value, dict):
        for item in value.values():
            yield from referenced_resources(item, resource_ids)
    elif isinstance(value, list):
        for item in value:
            yield from referenced_resources(item, resource_ids)


def creation_order(resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Logical ids with every resource after those it refers to (template order otherwise)."""
    ids = set(resources)
    depends: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        explicit = resource.get("DependsOn", [])
        needed = set(referenced_resources(resource.get("Properties", {}), ids))
        needed |= {explicit} if isinstance(explicit, str) else set(explicit)
        unknown = needed - ids
        if unknown:
            raise TemplateError(f"Resources.{logical_id} depends on undeclared {sorted(unknown)}")
        depends[logical_id] = needed - {logical_id}
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(resources):
        ready = [rid for rid in resources if rid not in placed and depends[rid] <= placed]
        if not ready:
            cycle = sorted(set(resources) - placed)
            raise TemplateError(f"circular references between resources {cycle}")
        order.append(ready[0])
        placed.add(ready[0])
    return order
