"""Permissions as strawberry ``BasePermission`` classes; a refusal is a ``FORBIDDEN`` field error."""

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


class CanSeePersonalData(_RoleAtLeast):
    """Personal fields (name, email hash, home location, identifier values) need an ``admin`` key."""

    role = Role.admin
    message = "This field holds personal data and needs an API key with the admin role."


class CanErase(_RoleAtLeast):
    """Erasing a customer needs an ``admin`` key."""

    role = Role.admin
    message = "Erasing a customer needs an API key with the admin role."


class CanAdminister(_RoleAtLeast):
    """The right of access and the audit trail need an ``admin`` key."""

    role = Role.admin
    message = "This query needs an API key with the admin role."
