"""Limits on what one request may ask for: depth, estimated cost, tokens and page size.

Depth and cost are one validation rule, built once per schema (so strawberry's ``ValidationCache`` keeps
hitting), measured in one walk that measures each fragment once (linear in the document however often
fragments are spread), and reported with a code; the token limit is strawberry's ``MaxTokensLimiter``; page sizes
are checked where the argument is used, because a variable's value is unknown at validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension

from api.errors import QUERY_TOO_COMPLEX, QUERY_TOO_DEEP, BadUserInput


def _page_size(node: FieldNode, definition: GraphQLField | None, max_page_size: int) -> int:
    """How many items a list field returns at most: its ``first`` (a variable counts as the largest page),
    the length of its ``ids``, else the default of its ``first`` argument, else :data:`UNPAGED_LIST`."""
    for argument in node.arguments or ():
        name, value = argument.name.value, argument.value
        if name == "first":
            return _literal_page(value.value, max_page_size) if isinstance(value, IntValueNode) else max_page_size
        if name == "ids":
            return len(value.values) if isinstance(value, ListValueNode) else max_page_size
    if definition is None or node.name.value in CONNECTION_LISTS:
        return 1
    first = definition.args.get("first")
    if first is not None and isinstance(first.default_value, int):
        return first.default_value
    return UNPAGED_LIST if isinstance(get_nullable_type(definition.type), GraphQLList) else 1


UNPAGED_LIST = 10  # what a list field without ``first`` is assumed to hold
#: Introspection (answered in development or when enabled) is priced by count: what is under ``__schema`` is
#: bounded by the schema and the introspection depth rule, not by pages, so the copies are what can grow (until
#: stop 40, 100 aliased deep introspections, 6.3 MB, were answered: found by an audit). GraphiQL asks one.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
MAX_INTROSPECTIONS = 5
CONNECTION_LISTS = frozenset({"edges", "nodes"})  # a connection's page: counted at the connection's ``first``

MAX_REPORTED_COST = 2**53 - 1  # the largest cost shown in an error: an integer every JSON reader holds exactly


def _literal_page(digits: str, max_page_size: int) -> int:
    """The page an ``Int`` literal asks for, clamped to ``0..max_page_size`` without converting a literal of
    any length (a larger page is refused where the argument is used; an out-of-range ``Int`` by validation)."""
    if digits.startswith("-"):
        return 0
    if len(digits) > len(str(max_page_size)):
        return max_page_size
    return min(int(digits), max_page_size)


@dataclass(frozen=True, slots=True)
class Shape:
    """Of a selection set: its depth (strawberry's measure: root fields at 0, introspection ignored) and its
    cost for one parent object (one per field, times the page sizes of the lists above it)."""

    depth: int
    cost: int
    introspections: int = 0  # ``__schema`` and ``__type`` fields, however reached (aliases, fragments)


class _Walk:
    """One pass over an operation; each fragment is measured once per document (so a fragment spread
    twice at every level costs linear time to validate, however large the estimate it yields)."""

    def __init__(self, context: ValidationContext, max_page_size: int) -> None:
        self.context, self.max_page_size = context, max_page_size
        self.schema = context.schema
        self.fragments: dict[str, Shape] = {}
        self.in_progress: set[str] = set()

    def fragment(self, name: str) -> Shape:
        known = self.fragments.get(name)
        if known is not None:
            return known
        definition = self.context.get_fragment(name)
        if definition is None or name in self.in_progress:  # unknown or cyclic: other rules report it
            return Shape(0, 0)
        self.in_progress.add(name)
        parent = self.schema.get_type(definition.type_condition.name.value)
        shape = self.selections(definition.selection_set, parent)
        self.in_progress.discard(name)
        self.fragments[name] = shape
        return shape

    def selections(self, selection_set: SelectionSetNode | None, parent: Any) -> Shape:
        if selection_set is None:
            return Shape(0, 0)
        depth, cost, introspections = 0, 0, 0
        typed: list[tuple[Any, int]] = []  # typed inline fragments: (their type, their cost)
        fields = getattr(get_named_type(parent), "fields", None) if parent is not None else None
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                definition = fields.get(name) if fields else None
                cost += 1
                introspections += name in INTROSPECTION_FIELDS
                if selection.selection_set is not None:
                    child = self.selections(selection.selection_set,
                                            definition.type if definition is not None else None)
                    cost += max(_page_size(selection, definition, self.max_page_size), 1) * child.cost
                    introspections += child.introspections
                    if not name.startswith("__"):
                        depth = max(depth, 1 + child.depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition is not None else parent
                child = self.selections(selection.selection_set, inner)
                if condition is None:
                    cost += child.cost
                else:
                    typed.append((inner, child.cost))
                depth, introspections = max(depth, child.depth), introspections + child.introspections
            elif isinstance(selection, FragmentSpreadNode):
                child = self.fragment(selection.name.value)
                depth, cost = max(depth, child.depth), cost + child.cost
                introspections += child.introspections
        return Shape(depth, cost + self._dearest_object(typed, parent), introspections)

    def _dearest_object(self, typed: list[tuple[Any, int]], parent: Any) -> int:
        """What the typed inline fragments cost for the dearest object the parent can be: every fragment
        whose type the object has runs (``... on Product`` under a ``Product`` always does, however often it is
        repeated); fragments on other members of an interface or union are alternatives."""
        if not typed:
            return 0
        named = get_named_type(parent) if parent is not None else None
        if not is_abstract_type(named):
            return sum(cost for _, cost in typed)  # an object (or unknown) parent: every applicable branch runs
        objects = self.schema.get_possible_types(named)
        if not objects or any(kind is None for kind, _ in typed):  # unknown types: other rules report them
            return sum(cost for _, cost in typed)
        return max(sum(cost for kind, cost in typed if kind is obj or (is_abstract_type(kind) and
                                                                       self.schema.is_sub_type(kind, obj)))
                   for obj in objects)


def limits_rule(max_depth: int, max_cost: int, max_page_size: int) -> type[ValidationRule]:
    """One validation rule for depth (``QUERY_TOO_DEEP``) and estimated cost (``QUERY_TOO_COMPLEX``),
    measured in one walk linear in the document.

    A list field multiplies what is selected below it by its page size: ``first: n`` (at most the largest page), the length of
    ``ids: [...]``, the largest page for a variable, the default of ``first`` when it is not given, and
    :data:`UNPAGED_LIST` for a list without ``first``.
    """

    class RequestLimits(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.walk = _Walk(context, max_page_size)

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            root = self.context.schema.get_root_type(node.operation)
            shape = self.walk.selections(node.selection_set, root)
            name = node.name.value if node.name else "anonymous"
            if shape.depth > max_depth:
                self.report_error(GraphQLError(
                    f"'{name}' exceeds maximum operation depth of {max_depth}", node,
                    extensions={"code": QUERY_TOO_DEEP, "depth": shape.depth, "maxDepth": max_depth}))
            elif shape.introspections > MAX_INTROSPECTIONS:
                self.report_error(GraphQLError(
                    f"'{name}' introspects the schema {shape.introspections} times; at most {MAX_INTROSPECTIONS} "
                    f"`__schema` / `__type` fields an operation.", node,
                    extensions={"code": QUERY_TOO_COMPLEX, "introspections": shape.introspections,
                                "maxIntrospections": MAX_INTROSPECTIONS}))
            elif shape.cost > max_cost:
                cost = min(shape.cost, MAX_REPORTED_COST)
                self.report_error(GraphQLError(
                    f"The operation's estimated cost {cost} exceeds the limit of {max_cost}; "
                    f"ask for smaller pages or fewer nested lists.",
                    node, extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "maxCost": max_cost}))

    return RequestLimits


def limit_extensions(max_depth: int, max_cost: int, max_page_size: int,
                     max_tokens: int) -> list[Callable[[], SchemaExtension]]:
    """Schema extension factories enforcing the limits (rules built once, so validation stays cached)."""
    rules: list[type[ASTValidationRule]] = [limits_rule(max_depth, max_cost, max_page_size)]
    return [lambda: MaxTokensLimiter(max_token_count=max_tokens), lambda: AddValidationRules(rules)]


def check_page_size(first: int, max_page_size: int, argument: str = "first") -> int:
    """``first`` when it is within ``1..max_page_size``; otherwise a ``BAD_USER_INPUT`` error."""
    if first < 0 or first > max_page_size:
        raise BadUserInput(f"`{argument}` must be between 0 and {max_page_size}, got {first}.",
                           argument=argument, maxPageSize=max_page_size)
    return first
