"""Fixtures of the AAMA face tests: cheap password hashing, an organisation with users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class Member:
    user: Any
    headers: dict[str, str]


@dataclass
class Team:
    org: Any
    admin: Member
    manager: Member
    officer: Member
    other_officer: Member
    reader: Member


async def member(client: Any, world: Any, org_id: int, role: str, access: str = "write") -> Member:
    user = await world.user(org_id, role=role, access=access)
    return Member(user, {"Authorization": f"Bearer {await world.token(client, user.username)}"})


@pytest.fixture
async def team(client: Any, world: Any) -> Team:
    org = await world.org("Acme Collections")
    return Team(
        org=org,
        admin=await member(client, world, org.id, "admin"),
        manager=await member(client, world, org.id, "manager"),
        officer=await member(client, world, org.id, "collection_officer"),
        other_officer=await member(client, world, org.id, "calling_agent"),
        reader=await member(client, world, org.id, "collection_officer", access="read"),
    )


@pytest.fixture
async def stranger(client: Any, world: Any) -> Member:
    other = await world.org("Other Org")
    return await member(client, world, other.id, "admin")
