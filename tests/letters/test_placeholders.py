"""Letter template placeholders and rendering, without a database."""

from __future__ import annotations

from arrears.letters import placeholders, render
from arrears.letters.builtins import BUILTINS
from arrears.letters.placeholders import TABLE
from tests.letters.helpers import pdf_text


def test_builtins_are_valid_and_have_the_table():
    for b in BUILTINS:
        assert placeholders.problems(b.subject, b.body) == {}, b.key
        assert TABLE in placeholders.blocks(b.body) and "[ReplyByDate]" in b.body


def test_blocks_split_paragraphs_and_the_table_line():
    body = "Dear [CustomerName]\nline two\n\n  [AgeingTable]  \nAfter the table\n\n\nEnd"
    assert placeholders.blocks(body) == ["Dear [CustomerName]\nline two", TABLE, "After the table", "End"]


def test_values_are_printed_as_written_never_read_again():
    values = {"CustomerName": "[TotalBalance] <b>&amp;", "TotalBalance": "10.00"}
    assert placeholders.fill("Dear [CustomerName], R[TotalBalance] [Unknown]", values) == \
        "Dear [TotalBalance] <b>&amp;, R10.00 [Unknown]"
    letter = render.LetterContent("1 January 2027", ("<script>x</script>",), "Account: A1", "Subject <i>",
                                  ("Dear [TotalBalance] <b>&amp;",), render.AgeingTable(("A",), ("1",)))
    pdf, pages = render.render(render.Head("Org & Co"), [letter])
    text = pdf_text(pdf)
    assert pages == [1] and "<script>x</script>" in text and "Dear [TotalBalance] <b>&amp;" in text
    assert "Subject <i>" in text and "Org & Co" in text


def test_unknown_placeholders_and_misplaced_table():
    found = placeholders.problems("Re [AgeingTable]", "Hi [CustmerName] and {{CustomerName}}\n[AgeingTable] x")
    assert "did you mean [CustomerName]?" in found["body"][0]
    assert any("line of its own" in m for m in found["body"])
    assert any("belongs in the body" in m for m in found["subject"])
    assert placeholders.problems("", "")["subject"] == ["This field is required."]
