"""The limits of a parse of an untrusted file: read from ARREARS_PARSE_* environment variables.

Self-contained on purpose (no import of arrears.config): the child process reads the same class,
and the settings tree can fold it in as one section.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ParseLimits(BaseSettings):
    """Hard limits of the parser's child process, and the pre-checks' thresholds."""

    model_config = SettingsConfigDict(env_prefix="ARREARS_PARSE_", extra="ignore", frozen=True)

    # Address space (RLIMIT_AS) a parse may add to the child's own start-up mappings.
    memory_mb: int = Field(1024, ge=64)
    # CPU seconds (RLIMIT_CPU) of one parse; the kernel stops the child past it.
    cpu_seconds: int = Field(120, ge=1)
    # Wall-clock seconds of one parse; the parent kills the child past it.
    wall_seconds: float = Field(300.0, gt=0)
    # A sheet whose used range (rows x columns) is larger is not given to python-calamine, which
    # allocates the whole range: .xlsx/.xlsm are streamed instead, other formats refused.
    max_cells: int = Field(10_000_000, ge=1_000)
    # Zip containers (xlsx, xlsm, xlsb, ods): members' total inflated size, and a member's
    # inflated / compressed ratio (members above 1 MiB only).
    max_inflated_mb: int = Field(512, ge=1)
    max_zip_ratio: int = Field(100, ge=2)
    # Longest line of a CSV/text file.
    max_line_kb: int = Field(1024, ge=1)
    # Pages of a PDF.
    max_pdf_pages: int = Field(5000, ge=1)
    # Child processes kept for parsing (each serves one parse at a time).
    workers: int = Field(2, ge=1, le=16)

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb << 20


@lru_cache(maxsize=1)
def get_parse_limits() -> ParseLimits:
    return ParseLimits()


def reset_parse_limits() -> None:
    """Forget the cached limits (tests that change the environment)."""
    get_parse_limits.cache_clear()
