"""Medical-aid control accounts: the account a practice bills a scheme through, not a person."""

from __future__ import annotations

import re
from collections.abc import Iterable

GENERIC = ("medical aid", "medical scheme", "med aid", "medaid", "medical fund", "health fund")
# Registered South African schemes (and the names they are printed under).
SA_SCHEMES = (
    "Discovery Health", "Discovery Medical", "Bonitas", "Momentum Health", "Momentum Medical", "Medshield",
    "GEMS", "Government Employees Medical", "Bestmed", "Fedhealth", "Polmed", "Medihelp", "Profmed",
    "Keyhealth", "Key Health", "Sizwe Hosmed", "Sizwe", "Hosmed", "CompCare", "Bankmed", "Camaf", "Genesis Medical",
    "LA Health", "Libcare", "Makoti", "Medimed", "Motohealth", "Netcare Medical", "Platinum Health",
    "Remedi", "Selfmed", "Spectramed", "Thebemed", "Transmed", "Umvuzo", "Wooltru", "Anglo Medical",
    "Cape Medical Plan", "Suremed", "Health Squared", "Quantum Medical", "Medipos", "Nedgroup Medical",
    "Old Mutual Staff Medical", "Engen Medical", "Glencore Medical", "Lonmin Medical", "Malcor",
    "Massmart Health", "Retail Medical", "Rand Water Medical", "SAMWUMED", "SABC Medical", "Parmed",
    "Tsogo Sun Medical", "Barloworld Medical", "BMW Employees Medical", "De Beers Benefit",
    "Fishing Industry Medical", "Horizon Medical", "Impala Medical", "Sasolmed", "Bonstart", "Bonclassic",
    "Medxpress", "Nedgroup", "Opmed", "Resolution Health", "Pharos Medical", "Witbank Coalfields",
)


class MedicalAidMatcher:
    """Word-bounded, case-insensitive match of scheme names (built-in plus the caller's) in an account name."""

    def __init__(self, extra_names: Iterable[str] = ()) -> None:
        names = [*GENERIC, *SA_SCHEMES, *(n for n in extra_names if n and n.strip())]
        # Spaces in a name match any run of spaces, dots or hyphens ("Med-Aid", "Sizwe  Hosmed").
        parts = sorted({r"[\s.\-]*".join(map(re.escape, n.split())) for n in names}, key=len, reverse=True)
        self._pattern = re.compile(rf"(?<![^\W_])(?:{'|'.join(parts)})(?![^\W_])", re.IGNORECASE)

    def __call__(self, name: str) -> bool:
        return self._pattern.search(name) is not None
