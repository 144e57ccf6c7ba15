"""The tracking plan: an optional JSON schema per ``track`` event name, checked before a message is written.

The plan is a JSON file (``CUSTOMER_GRAPH_TRACKING_PLAN``, see :mod:`api.collection.config`)::

    {"events": {"Order Completed": {"type": "object", "required": ["order_id"], ...}, ...}}

Each schema describes the ``properties`` of the ``track`` messages with that exact event name (any draft the
``jsonschema`` library knows, by ``$schema``; 2020-12 when it says none). Other messages, and track events the
plan does not name, are not checked. The writer (:mod:`api.collection.writer`) keeps a message that violates
its schema as a reject with the reason this module words: the event, the JSON path in the message, and the
schema's message.

>>> plan = TrackingPlan.from_dict({"events": {"Order Completed": {
...     "type": "object", "required": ["order_id"],
...     "properties": {"revenue": {"type": "number"}}}}})
>>> plan.violation({"type": "track", "event": "Order Completed", "properties": {"order_id": "W1", "revenue": "9"}})
"tracking plan of 'Order Completed': $.properties.revenue: '9' is not of type 'number'"
>>> plan.violation({"type": "track", "event": "Order Completed", "properties": {"revenue": "9"}}, hide_values=True)
"tracking plan of 'Order Completed': $.properties: 'order_id' is a required property; \
$.properties.revenue: the value is not of type 'number'"
>>> plan.violation({"type": "track", "event": "Product Viewed", "properties": {}}) is None
True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema.exceptions import SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

MAX_REPORTED = 3  # schema errors worded in one reject's reason
MAX_ERROR_CHARS = 300  # of one schema error's message
HIDDEN = "the value"  # what a sent value is replaced by when values are hidden


class PlanError(ValueError):
    """The tracking plan file is unreadable, not JSON, not shaped as a plan, or holds an invalid schema."""


class TrackingPlan:
    """The compiled schemas of a tracking plan, by event name."""

    def __init__(self, validators: Mapping[str, Validator]) -> None:
        self.validators = dict(validators)

    @classmethod
    def from_dict(cls, plan: Any) -> TrackingPlan:
        """The plan of a parsed file (``{"events": {name: schema}}``), or :class:`PlanError` saying what is wrong."""
        events = plan.get("events") if isinstance(plan, dict) else None
        if not isinstance(events, dict):
            raise PlanError('expected a JSON object {"events": {"<event name>": <JSON schema>, ...}}')
        validators: dict[str, Validator] = {}
        for name, schema in events.items():
            if not isinstance(schema, dict | bool):
                raise PlanError(f"the schema of {name!r} must be a JSON object, got {type(schema).__name__}")
            checker = validator_for(schema)
            try:
                checker.check_schema(schema)
            except SchemaError as error:
                raise PlanError(f"the schema of {name!r} is not a valid JSON schema at {error.json_path}: "
                                f"{error.message}") from None
            validators[name] = checker(schema)
        return cls(validators)

    @classmethod
    def load(cls, path: Path) -> TrackingPlan:
        """The plan in the JSON file at ``path``, or :class:`PlanError` saying what is wrong."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise PlanError(f"cannot read the file: {error}") from None
        try:
            plan = json.loads(text)
        except ValueError as error:
            raise PlanError(f"not JSON: {error}") from None
        return cls.from_dict(plan)

    def violation(self, message: Mapping[str, Any], *, hide_values: bool = False) -> str | None:
        """Why ``message`` violates the plan (the event, the JSON path, the schema's message), or None.

        ``hide_values``: the values the message sent are left out of the reason (they may be personal);
        the path and the rule broken stay.
        """
        if message.get("type") != "track":
            return None
        event = message.get("event")
        validator = self.validators.get(event) if isinstance(event, str) else None
        if validator is None:
            return None
        head = f"tracking plan of {event!r}"
        try:
            errors = sorted(validator.iter_errors(message.get("properties") or {}), key=lambda e: e.json_path)
        except Unresolvable as error:  # a $ref the plan cannot resolve: a broken plan, reported per message
            return f"{head}: its schema could not be applied ({str(error)[:MAX_ERROR_CHARS]})"
        if not errors:
            return None
        worded = [_worded(error, hide_values) for error in errors[:MAX_REPORTED]]
        more = f" (and {len(errors) - MAX_REPORTED} more)" if len(errors) > MAX_REPORTED else ""
        return f"{head}: {'; '.join(worded)}{more}"


def _worded(error: ValidationError, hide_values: bool) -> str:
    """``$.properties.<path>: <schema message>``, the sent value replaced when ``hide_values``."""
    text = error.message
    if hide_values and isinstance(error.instance, str | dict | list):
        text = text.replace(repr(error.instance), HIDDEN)
    if len(text) > MAX_ERROR_CHARS:
        text = text[:MAX_ERROR_CHARS] + "…"
    return f"$.properties{error.json_path[1:]}: {text}"
