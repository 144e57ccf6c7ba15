"""Permissions as strawberry ``BasePermission`` classes; a refusal is a ``FORBIDDEN`` field error.

A customer token (a principal with ``customer_id``) has the reader role for the catalogue, stores and
segments, sees the personal fields of its own customer only, and writes (track events, responses,
consent) only for itself: the resolvers scope what it reaches (see docs/api.md, "Customer tokens").
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from api.auth import Role
from api.errors import FORBIDDEN


class _RoleAtLeast(BasePermission):
    role = Role.admin
    error_extensions = {"code": FORBIDDEN}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return bool(info.context.principal.allows(self.role))


class CanWrite(_RoleAtLeast):
    """Mutations of the conversation need a ``writer`` (or ``admin``) key."""

    role = Role.writer
    message = "This operation needs an API key with the writer role."


class CanWriteOwn(_RoleAtLeast):
    """Mutations of the conversation: a ``writer`` key, or a customer token (the resolver keeps it to its own
    customer)."""

    role = Role.writer
    message = "This operation needs an API key with the writer role, or the customer's own token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return super().has_permission(source, info, **kwargs) or info.context.principal.is_customer


def personal_owner(source: Any) -> str:
    """The customer a personal field belongs to: ``customer_id`` of an identity or reply, else the customer's ``id``."""
    return str(getattr(source, "customer_id", None) or source.id)


class CanSeePersonalData(_RoleAtLeast):
    """Personal fields (name, email hash, home location, identifier values) need an ``admin`` key, or the
    customer's own token."""

    role = Role.admin
    message = "This field holds personal data and needs an API key with the admin role, or the customer's own token."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return super().has_permission(source, info, **kwargs) or info.context.principal.owns(personal_owner(source))


class CanErase(_RoleAtLeast):
    """Erasing a customer needs an ``admin`` key."""

    role = Role.admin
    message = "Erasing a customer needs an API key with the admin role."


class CanAdminister(_RoleAtLeast):
    """The right of access and the audit trail need an ``admin`` key."""

    role = Role.admin
    message = "This query needs an API key with the admin role."
