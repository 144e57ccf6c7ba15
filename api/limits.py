"""Limits on what one request may ask for: depth, estimated cost, tokens and page size.

Depth and cost are validation rules, built once per schema (so strawberry's ``ValidationCache`` keeps
hitting) and reported with a code; the token limit is strawberry's ``MaxTokensLimiter``; page sizes
are checked where the argument is used, because a variable's value is unknown at validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.extensions.query_depth_limiter import create_validator

from api.errors import QUERY_TOO_COMPLEX, QUERY_TOO_DEEP, BadUserInput


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """Strawberry's query-depth validator, with ``extensions.code = QUERY_TOO_DEEP`` on its errors."""
    strawberry_rule = create_validator(max_depth, None)

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            report = context.report_error

            def report_with_code(error: GraphQLError) -> None:
                error.extensions = {**(error.extensions or {}), "code": QUERY_TOO_DEEP}
                report(error)

            context.report_error = report_with_code  # type: ignore[method-assign]
            try:
                strawberry_rule(context)
            finally:
                context.report_error = report  # type: ignore[method-assign]
            super().__init__(context)

    return DepthLimit


def _page_argument(node: FieldNode, max_page_size: int) -> int | None:
    """How many items a field asks for: its ``first``, or the length of its ``ids`` list."""
    for argument in node.arguments or ():
        name, value = argument.name.value, argument.value
        if name == "first" and isinstance(value, IntValueNode):
            return max(0, int(value.value))
        if name == "ids" and isinstance(value, ListValueNode):
            return len(value.values)
        if name in ("first", "ids"):
            return max_page_size  # a variable: assume the largest page it may ask for
    return None


def cost_rule(max_cost: int, max_page_size: int) -> type[ValidationRule]:
    """A rule estimating each operation's cost: one per field, times the page sizes of the lists above it.

    A list field with ``first: n`` (or ``ids: [...]``) multiplies what is selected below it by ``n`` (a
    variable counts as the largest page); fields without them count once (their lists are small).
    """

    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            cost = self._cost(node.selection_set, 1, frozenset())
            if cost > max_cost:
                self.report_error(GraphQLError(
                    f"The operation's estimated cost {cost} exceeds the limit of {max_cost}; "
                    f"ask for smaller pages or fewer nested lists.",
                    node, extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "maxCost": max_cost},
                ))

        def _cost(self, selection_set: SelectionSetNode | None, multiplier: int, seen: frozenset[str]) -> int:
            if selection_set is None:
                return 0
            total = 0
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    total += multiplier
                    if selection.selection_set is not None:
                        first = _page_argument(selection, max_page_size)
                        size = first if first is not None else 1
                        total += self._cost(selection.selection_set, multiplier * max(size, 1), seen)
                elif isinstance(selection, InlineFragmentNode):
                    total += self._cost(selection.selection_set, multiplier, seen)
                elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                    fragment = self.context.get_fragment(selection.name.value)
                    if fragment is not None:
                        total += self._cost(fragment.selection_set, multiplier, seen | {selection.name.value})
                if total > max_cost * 10:  # no need to count further
                    return total
            return total

    return CostLimit


def limit_extensions(max_depth: int, max_cost: int, max_page_size: int,
                     max_tokens: int) -> list[Callable[[], SchemaExtension]]:
    """Schema extension factories enforcing the limits (rules built once, so validation stays cached)."""
    rules = [depth_rule(max_depth), cost_rule(max_cost, max_page_size)]
    return [lambda: MaxTokensLimiter(max_token_count=max_tokens), lambda: AddValidationRules(rules)]


def check_page_size(first: int, max_page_size: int, argument: str = "first") -> int:
    """``first`` when it is within ``1..max_page_size``; otherwise a ``BAD_USER_INPUT`` error."""
    if first < 0 or first > max_page_size:
        raise BadUserInput(f"`{argument}` must be between 0 and {max_page_size}, got {first}.",
                           argument=argument, maxPageSize=max_page_size)
    return first
