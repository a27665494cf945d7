"""marshmallow schemas as JSON Schema, shared by the two contract documents.

Owns: naming components (`schema_name_resolver`), the rules marshmallow fields cannot say
(`add_schema_rules`: the cross-field `JSON_SCHEMA_RULES` of `schemas/`) and the text rules
of schemas/common.py as patterns (`text_rules`, an apispec attribute function). Used by
`api/openapi.py` (REST) and `api/asyncapi.py` (socket events), so both documents state the
same rules the same way.
Must not: know routes or events, or validate anything (the schemas do).
"""

from __future__ import annotations

import copy
from typing import Any

from marshmallow import Schema, fields

from schemas import event_payloads as ev
from schemas import responses as r
from schemas.auth import PASSWORD_MAX_BYTES, PASSWORD_MIN_CHARS
from schemas.common import (
    LINE_PATTERN,
    NAME_PATTERN,
    SURROGATE_NOTE,
    TEXT_PATTERN,
    VISIBLE_NAME_PATTERN,
)


def schema_name_resolver(schema: type[Schema] | Schema) -> str:
    """apispec's name for a schema's component (and the schema remembered by that name)."""
    cls = schema if isinstance(schema, type) else type(schema)
    return register_component(cls)


def register_component(cls: type[Schema]) -> str:
    """The component name of `cls`, remembered so that `add_schema_rules` finds its rules."""
    name = component_name(cls)
    _COMPONENT_CLASSES[name] = cls
    return name


def component_name(cls: type[Schema]) -> str:
    """Responses keep their short names; a request schema that shares one gets `Input`."""
    name = cls.__name__.removeprefix("_").removesuffix("Schema")
    if cls.__module__ in _OUTPUT_MODULES:
        return name
    if cls.__module__.startswith("schemas."):
        # Request bodies and payloads; response names stay short.
        return name + "Input" if name in _RESPONSE_NAMES else name
    return name


# Component name -> the marshmallow schema it was made from (filled by the resolver).
_COMPONENT_CLASSES: dict[str, type[Schema]] = {}


def add_schema_rules(components: dict[str, Any]) -> None:
    """Add the cross-field rules of `schemas/` (`JSON_SCHEMA_RULES`: anyOf, oneOf, not...)
    that marshmallow fields cannot describe to their components."""
    for name, component in components.get("schemas", {}).items():
        rules = getattr(_COMPONENT_CLASSES.get(name), "JSON_SCHEMA_RULES", None)
        if rules:
            rules = {"allOf": [copy.deepcopy(rules)]}
            _close_branches(rules, list(component.get("properties", {})))
            component.update(rules)


def _close_branches(schema: dict[str, Any], names: list[str]) -> None:
    """Repeat `additionalProperties: false` (with the object's property names) in every
    anyOf/oneOf/allOf branch. The object is closed anyway; said again in each branch, a
    tool that looks at one branch alone knows it too: schemathesis 4.32 adds fields of
    earlier responses to a body and checks the result against a branch (the rules go
    under an allOf for the same reason)."""
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, ()):
            properties = branch.setdefault("properties", {})
            for name in names:
                properties.setdefault(name, {})
            branch["additionalProperties"] = False
            _close_branches(branch, names)


# What the server sends (REST bodies; socket acks and events): their names stay short.
_OUTPUT_MODULES = frozenset({r.__name__, ev.__name__})
_RESPONSE_NAMES = {
    cls.__name__.removesuffix("Schema")
    for module in (r, ev)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, Schema) and cls.__module__ == module.__name__
}


# The text rules of schemas/common.py as JSON Schema patterns, so that the spec (and the
# clients and fuzzers generated from it) know them: no control characters (newline and tab
# allowed in free text), and for names at least one visible character.
def text_rules(self: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """apispec attribute function: document the function validators of `schemas/`."""
    names = {getattr(v, "__name__", "") for v in field.validators}
    if "password_rules" in names:
        return {
            "minLength": PASSWORD_MIN_CHARS,
            # A character is at least one byte: the byte limit is also a length limit.
            "maxLength": PASSWORD_MAX_BYTES,
            "pattern": LINE_PATTERN,
            "description": f"{PASSWORD_MIN_CHARS} characters to {PASSWORD_MAX_BYTES} bytes "
            f"of UTF-8 (bcrypt's limit), no control characters. {SURROGATE_NOTE}",
        }
    if "pattern" in ret:
        return {}
    if "single_line" in names:
        pattern = NAME_PATTERN if "not_blank" in names else LINE_PATTERN
        if "no_format_chars" in names:
            pattern = VISIBLE_NAME_PATTERN
        return {"pattern": pattern, "description": SURROGATE_NOTE}
    if "no_control_chars" in names:
        return {"pattern": TEXT_PATTERN, "description": SURROGATE_NOTE}
    return {}
