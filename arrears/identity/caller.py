"""Who is calling: one shape for a user's JWT and an API key, on every face."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from arrears.errors import Forbidden, NotFound
from arrears.identity.models import ApiKey, User

# The organisation of `Caller.operator()`: none (ids start at 1).
NO_ORG = 0


@dataclass(frozen=True)
class Caller:
    kind: Literal["user", "api_key", "system"]
    org_id: int
    user: User | None = None
    api_key: ApiKey | None = None
    role: str | None = None
    access: str = "read"
    scopes: frozenset[str] = frozenset()
    # For users: every organisation they belong to and their access there.
    memberships: dict[int, str] = field(default_factory=dict)
    # For the system caller: how the audit trail names it (`cli`, `system`).
    system_name: str = "system"

    @classmethod
    def system(cls, org_id: int, name: str = "system") -> Caller:
        """The deployment's operator acting in `org_id` (the CLI, start-up, set-up scripts): whoever
        runs the process may do anything there, so it is an admin with write access and every scope."""
        return cls(kind="system", org_id=org_id, role="admin", access="write", scopes=frozenset({"*"}),
                   system_name=name)

    @classmethod
    def operator(cls, name: str = "system") -> Caller:
        """The deployment's operator before there is an organisation to act in (creating one:
        the CLI, open registration's first default organisation, set-up scripts). Organisation
        ids start at 1, so anything org-scoped it tries finds nothing."""
        return cls.system(NO_ORG, name)

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        if self.user:
            return f"user:{self.user.id}"
        if self.kind == "system":
            return self.system_name
        assert self.api_key is not None
        return f"api_key:{self.api_key.key_id}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_manager_or_admin(self) -> bool:
        return self.role in ("admin", "manager")

    def has_scope(self, scope: str) -> bool:
        """API keys need the scope (`*` grants all); users are governed by role and access."""
        if self.kind != "api_key":
            return True
        return "*" in self.scopes or scope in self.scopes

    def require_write(self) -> None:
        if self.access != "write":
            raise Forbidden("You have read-only access to this organisation")

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden("Your role does not allow this")

    def in_org(self, org_id: int) -> Caller:
        """The same caller acting in another of its organisations; 404 when it is not one of them."""
        if org_id == self.org_id:
            return self
        if self.kind == "user" and org_id in self.memberships:
            return replace(self, org_id=org_id, access=self.memberships[org_id])
        raise NotFound("Organisation not found")
