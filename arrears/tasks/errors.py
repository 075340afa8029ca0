"""The tasks domain's error codes."""

from __future__ import annotations

from enum import StrEnum


class TaskErrorCode(StrEnum):
    TASK_CLOSED = "TASK_CLOSED"
