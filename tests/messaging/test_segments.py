from __future__ import annotations

import pytest

from arrears.messaging.segments import count_segments, is_gsm7


@pytest.mark.parametrize(("text", "encoding", "characters", "segments"), [
    ("", "GSM-7", 0, 0),
    ("a", "GSM-7", 1, 1),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà", "GSM-7", 64, 1),  # 64 basic chars
    # Extension characters cost two septets each.
    ("€", "GSM-7", 2, 1),
    ("^{}\\[~]|€\f", "GSM-7", 20, 1),
    ("€" * 80, "GSM-7", 160, 1),
    ("€" * 81, "GSM-7", 162, 2),
    ("a" * 159 + "€", "GSM-7", 161, 2),
    # An escape pair is never split: 152 + [€ would straddle] -> 3 parts, not ceil(306/153) = 2.
    ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),
    # Anything outside GSM-7 switches the whole message to UCS-2.
    ("😀", "UCS-2", 2, 1),
    ("a" * 70, "GSM-7", 70, 1),
    ("a" * 69 + "ç", "UCS-2", 70, 1),
    ("a" * 70 + "’", "UCS-2", 71, 2),
    ("😀" * 35, "UCS-2", 70, 1),
    ("😀" * 35 + "a", "UCS-2", 71, 2),
    ("Привет" * 22, "UCS-2", 132, 2),
    ("Привет" * 23, "UCS-2", 138, 3),
    # A surrogate pair is never split either.
    ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),
])
def test_segment_table(text: str, encoding: str, characters: int, segments: int) -> None:
    result = count_segments(text)
    assert (result.encoding, result.characters, result.segments) == (encoding, characters, segments)


def test_per_segment_and_remaining() -> None:
    r = count_segments("a" * 150)
    assert (r.per_segment, r.remaining) == (160, 10)
    r = count_segments("a" * 200)
    assert (r.per_segment, r.remaining) == (153, 106)
    r = count_segments("😀" * 10)
    assert (r.per_segment, r.remaining) == (70, 50)


def test_is_gsm7() -> None:
    assert is_gsm7("Hi John, R9,000.00 owing [ACC001] {ok} €")
    assert not is_gsm7("Hi Zoë")  # ë is not in the basic table
    assert not is_gsm7("tab\there")
