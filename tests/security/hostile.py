"""Hostile files, made by the tests: each small on disk and ruinous to a parser without limits.

None of them is ever opened by a native parser in the test process: python-calamine aborts its
whole process on the far cell, and PDFium takes gigabytes on the self-drawing form.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

HEADER = ["Account", "Name", "Contact", "Telephone", "Current", "30 Days", "60 Days", "90 Days",
          "120 Days", "Total Balance"]
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>'),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="http://schemas.openxmlformats.'
        'org/officeDocument/2006/relationships"><sheets><sheet name="Debtors" sheetId="1" r:id="rId1"/></sheets>'
        '</workbook>'),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'),
}


def _column(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(ref: str, value: object) -> str:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def sheet_rows(rows: list[list[object]], first: int = 1) -> str:
    out = []
    for number, row in enumerate(rows, first):
        cells = "".join(_cell(f"{_column(i)}{number}", v) for i, v in enumerate(row, 1) if v is not None)
        out.append(f'<row r="{number}">{cells}</row>')
    return "".join(out)


def _write_xlsx(path: Path, sheet_chunks: list[bytes] | None = None, sheet: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, text in _PARTS.items():
            zf.writestr(name, text)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            for chunk in sheet_chunks or [(sheet or "").encode()]:
                fh.write(chunk)
    return path


def accounts(count: int) -> list[list[object]]:
    return [[f"ACC{i:04d}", f"Customer {i}", "", f"082{i:07d}", 100, 50, 0, 0, 0, 150] for i in range(count)]


def far_cell_xlsx(path: Path, count: int = 20) -> Path:
    """A ~2 KB workbook: a header, `count` accounts, and one cell at XFD1048576 (inside Excel's
    grid: Solver keeps its data there). python-calamine would allocate 1,048,576 x 16,384 cells."""
    body = sheet_rows([HEADER, *accounts(count)])
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return _write_xlsx(path, sheet=f'<worksheet xmlns="{_NS}"><sheetData>{body}{far}</sheetData></worksheet>')


def zip_bomb_xlsx(path: Path, inflated_mb: int = 64) -> Path:
    """A real workbook whose sheet inflates to `inflated_mb` MiB of whitespace (about 1,000:1)."""
    head = f'<worksheet xmlns="{_NS}"><sheetData>{sheet_rows([HEADER, *accounts(3)])}'.encode()
    pad = b" " * (1 << 20)
    return _write_xlsx(path, [head, *([pad] * inflated_mb), b"</sheetData></worksheet>"])


def one_line_csv(path: Path, megabytes: int = 8) -> Path:
    """A CSV whose second line is `megabytes` MiB of tiny cells (the csv module holds them all)."""
    with path.open("wb") as fh:
        fh.write((",".join(HEADER) + "\r\n").encode())
        fh.write(b"1," * (megabytes << 19))
        fh.write(b"1\r\n")
    return path


# ------------------------------------------------------------------ PDFs


def repeated_deflate(block: bytes, times: int) -> bytes:
    """zlib data of `block` repeated `times` times, made by compressing it once: after a full
    flush a deflate block refers to nothing before it, so the same bytes can follow again."""
    packer = zlib.compressobj(9)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush()[:-4]  # the final empty block, without the two-block checksum
    checksum = 1
    for _ in range(times):
        checksum = zlib.adler32(block, checksum)
    return first + again * (times - 1) + end + checksum.to_bytes(4, "big")


def pdf(objects: list[bytes]) -> bytes:
    """A PDF of these objects (1 is the catalog) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(content: bytes, extra: bytes = b"", compress: bool = False) -> bytes:
    if compress:
        content = zlib.compress(content, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(content), extra) + content + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def self_drawing_form_pdf() -> bytes:
    """Under 1 KB: a form XObject that writes a word and draws itself four times, scaled down; a
    reader that follows it expands 4^depth copies (PDFium's nesting limit is far past where
    memory runs out)."""
    form = _stream(b"BT /F1 9 Tf 10 10 Td (Debtor) Tj ET "
                   b"q .5 0 0 .5 0 0 cm /X Do Q q .5 0 0 .5 50 0 cm /X Do Q "
                   b"q .5 0 0 .5 0 50 cm /X Do Q q .5 0 0 .5 50 50 cm /X Do Q",
                   b" /Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /X 4 0 R >>"
                   b" /Font << /F1 5 0 R >> >>")
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R"
        b" /Resources << /XObject << /X 4 0 R >> /Font << /F1 5 0 R >> >> >>",
        form, _FONT, _stream(b"q /X Do Q"),
    ])


def inflated_content_pdf(inflated_mb: int = 512) -> bytes:
    """One page whose content stream inflates to `inflated_mb` MiB of text-drawing operators."""
    line = b"BT /F1 9 Tf 72 700 Td (Account 0001 Customer 100.00) Tj ET\n"
    packed = repeated_deflate(line * ((1 << 20) // len(line)), inflated_mb)
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        content, _FONT,
    ])


def page_tree_pdf(references: int = 100_000) -> bytes:
    """One page referred to `references` times by the page tree: a PDF of 100,000 pages in ~1 MB."""
    kids = b" ".join([b"3 0 R"] * references)
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % references,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        _stream(b"BT /F1 9 Tf 72 700 Td (Account) Tj ET"), _FONT,
    ])


def repeated_ods(path: Path, rows: int = 1_000_000, columns: int = 16_384) -> Path:
    """An OpenDocument spreadsheet of 1 KB whose one cell is repeated over rows x columns."""
    table = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
    office = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="{office}" '
        f'xmlns:table="{table}" office:version="1.2"><office:body><office:spreadsheet>'
        '<table:table table:name="Debtors"><table:table-row table:number-rows-repeated="{rows}">'
        '<table:table-cell table:number-columns-repeated="{columns}" office:value-type="float" office:value="1"/>'
        "</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"
    ).replace("{rows}", str(rows)).replace("{columns}", str(columns))
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:'
        'opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type='
        '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml"'
        ' manifest:media-type="text/xml"/></manifest:manifest>')
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path
