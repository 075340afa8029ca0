"""SMS segment counting: how many messages a text costs.

GSM-7 (3GPP TS 23.038 default alphabet) when every character is in the basic table or its
extension table; an extension character is sent as ESC + char, so it counts 2. Anything else
(emoji, curly quotes, most accents) forces UCS-2 for the whole message, counted in UTF-16 code
units. A single SMS holds 160 GSM-7 septets or 70 UCS-2 units; a concatenated one loses room to
its header: 153 or 67 per segment. An escape pair or a surrogate pair is never split across
segments, so a part may be filled short of its limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS: dict[Encoding, tuple[int, int]] = {
    # encoding: (single message, per segment of a concatenated message)
    "GSM-7": (160, 153),
    "UCS-2": (70, 67),
}


@dataclass(frozen=True, slots=True)
class SegmentCount:
    encoding: Encoding
    characters: int  # GSM-7 septets (extension chars count 2) or UTF-16 code units
    segments: int  # 0 for an empty text
    per_segment: int  # capacity of each segment at this length (160/153 or 70/67)
    remaining: int  # room left in the last segment before another is needed


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: Encoding) -> list[int]:
    if encoding == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # astral chars are a surrogate pair


def count_segments(text: str) -> SegmentCount:
    encoding: Encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    single, multi = LIMITS[encoding]
    costs = _unit_costs(text, encoding)
    total = sum(costs)
    if total == 0:
        return SegmentCount(encoding, 0, 0, single, single)
    if total <= single:
        return SegmentCount(encoding, total, 1, single, single - total)
    # Pack greedily so that a 2-unit character moves whole to the next segment.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return SegmentCount(encoding, total, segments, multi, multi - used)
