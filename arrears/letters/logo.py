"""The letterhead's logo, checked by what it is, not by what it is called: a PNG or a JPEG (its
magic bytes), at most 1 MB, whose header states sane dimensions and whose pixels then decode in
full. Anything else is a 400 that says which rule it broke, and nothing is stored.

Decoding is bounded before it starts: the file is at most MAX_BYTES and its stated dimensions at
most MAX_SIDE pixels a side, so a small file cannot claim a gigapixel canvas (Pillow's own
decompression-bomb check is a second guard).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from arrears.errors import ValidationFailed
from arrears.letters.errors import LetterErrorCode

MAX_BYTES = 1024 * 1024
MAX_SIDE = 4096
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str  # image/png | image/jpeg
    width: int
    height: int


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, code=LetterErrorCode.INVALID_LOGO, field_errors={"logo": [message]})


def sniff(data: bytes) -> str | None:
    """image/png or image/jpeg by the file's first bytes, else None."""
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    return None


def check_logo(data: bytes) -> Logo:
    if not data:
        raise _refuse("The logo file is empty.")
    if len(data) > MAX_BYTES:
        raise _refuse(f"The logo is {len(data):,} bytes; it may be at most 1 MB ({MAX_BYTES:,} bytes).")
    kind = sniff(data)
    if kind is None:
        raise _refuse("The logo must be a PNG or JPEG image (its content is neither, whatever its name).")
    from PIL import Image  # reportlab's own dependency

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"] if kind == "image/png" else ["JPEG"]) as img:
                width, height = img.size
                if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
                    raise _refuse(f"The logo is {width}×{height} pixels; at most {MAX_SIDE} a side.")
                img.load()  # every pixel: a truncated or corrupt image fails here, not in a letter
    except ValidationFailed:
        raise
    except Exception:  # Pillow's many ways of saying "not a valid image"
        raise _refuse("The logo could not be read as a " + ("PNG" if kind == "image/png" else "JPEG")
                      + " image: the file is damaged or not an image.") from None
    return Logo(data, kind, width, height)
