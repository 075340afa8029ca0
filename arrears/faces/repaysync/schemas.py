"""RepaySync's request and response bodies (§3, §4, §8), field names as the spec writes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TokenRequest(BaseModel):
    username: str
    password: str


class TokenPair(BaseModel):
    access: str
    refresh: str


class RefreshRequest(BaseModel):
    refresh: str


class AccessToken(BaseModel):
    access: str


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: str
    email: str | None = None
    role: str
    manager: int | None = None
    password: str


class UserOut(BaseModel):
    id: int
    username: str
    email: str | None
    role: str
    manager: int | None


class LogOut(BaseModel):
    id: int
    user: int | None
    method: str
    endpoint: str
    request_payload: str
    response_payload: str
    status_code: int
    created_at: str
