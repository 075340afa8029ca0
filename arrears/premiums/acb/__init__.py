"""BankservAfrica ACB ("magtape") files for EFT debit orders: writing, parsing, bank answers.

South African banks (Investec among them) accept EFT debit orders in the ACB layout of the
Automated Clearing Bureau, now BankservAfrica: fixed-width records of exactly 180 characters,
one per line. Positions below are 1-based and inclusive. N = numeric, right-justified and
zero-filled; A = alphanumeric, left-justified and space-filled. The layout itself is data, in
:mod:`arrears.premiums.acb.layout`, and the same tables drive writing and parsing.

File structure::

    02 installation header
      04 user header
        10 standard transaction (one per debit)          ) repeated per
        12 contra (credits the user with the sum)        ) action date
      92 user trailer
    94 installation trailer

02 Installation header / 94 installation trailer
    1-2 record id; 3-6 volume number (N4); 7-14 tape serial number (N8); 15-18 installation id
    from (A4, the user code unless set); 19-22 installation id to (A4, default ``0021``);
    23-28 creation date (YYMMDD); 29-34 purge date; 35-38 installation generation number (N4,
    the user generation number unless set); 39-42 block length (``1800``); 43-46 record length
    (``0180``); 47-56 service (A10, ``MAGTAPE``); 57-180 blank. The trailer repeats 3-56 and adds
    57-62 block count (records / 10, rounded up), 63-68 record count (every record in the file,
    02 and 94 included), 69-74 user header and trailer count; 75-180 blank.

04 User header
    3-6 user code (A4); 7-12 creation date; 13-18 purge date; 19-24 first action date;
    25-30 last action date; 31-36 first sequence number (N6); 37-40 user generation number (N4);
    41-50 type of service (A10, default ``TWO DAY``); 51 accepted report (``Y``); 52 account type
    correct (``Y``); 53-180 blank.

10 Standard transaction (a debit to the payer, the "homing" account)
    3-8 user branch (N6) and 9-19 user nominated account (N11): the user's own account;
    20-23 user code; 24-29 user sequence number (N6); 30-35 homing branch (N6); 36-46 homing
    account number (N11); 47 account type (1 current, 2 savings, 3 transmission); 48-58 amount in
    cents (N11); 59-64 action date (YYMMDD); 65-66 entry class (N2, default ``44``, see below);
    67 tax code (``0``); 68-70 ``000``; 71-100 user reference (A30): 71-80 the user abbreviated
    name, 81-100 the mandate/policy reference; 101-130 homing account name (A30); 131-150
    non-standard homing account number (N20, zeros unless used); 151-166 blank; 167-168 homing
    institution (``21``); 169-180 blank.

12 Contra
    3-66 as the standard transaction, with the user's own branch and account as the homing
    branch and account, account type 1 and entry class ``10``; the amount is the sum of the
    debits before it (back to the previous contra), all on its action date. 67-70 ``0000``;
    71-100 user reference: abbreviated name + ``CONTRA YYMMDD``; 101-180 blank.

92 User trailer
    3-6 user code; 7-12 first and 13-18 last sequence number; 19-24 first and 25-30 last
    action date; 31-36 number of debit records; 37-42 number of credit records; 43-48 number of
    contra records; 49-60 total debit value (cents, N12); 61-72 total credit value; 73-84 hash
    total of homing account numbers (N12); 85-180 blank.

Choices documented here (where the public layout is silent, varies by bank, or we chose):

* Sequence numbers run consecutively over the standard *and* contra records of a user set,
  starting from the caller's ``first_sequence_number``.
* In a debit file the standard records are the debits and the contras are the credits, so the
  trailer counts debits = standard records, credits = contras = contra records, and the debit and
  credit totals are equal. Credit (payment) files are out of scope.
* Hash total: the homing account numbers of every standard and contra record (the contra's is
  the user's nominated account), each taken as an integer, where a non-standard account
  contributes its rightmost 11 digits; the sum is cut to its rightmost 12 digits
  (:func:`hash_total`).
* Account numbers of 12-16 digits go in the non-standard field with the homing account number
  set to zero.
* Entry class ``44`` is the default for debit orders (it is what the reference ACB debit files
  we checked use); set ``UserInfo.entry_class`` to what the sponsoring bank agreed with the user.
* The user reference carries a 20-character reference after the 10-character abbreviated name.
  BankservAfrica's debit-order notice asks for the mandate reference in 81-94 with 95-100 free:
  references of up to 14 characters satisfy both.
* The installation id "to" defaults to ``0021`` and the type of service to ``TWO DAY``; both
  are settable on :class:`UserInfo`.
* Files are written with CRLF line endings by default (LF on request); the parser accepts
  either, a final newline, and records whose trailing blanks were stripped.
* Dates are YYMMDD in the years 2000-2099.
* Unpaids: the unpaid reports banks return are not one public ACB layout (each sponsoring bank
  delivers its own). Arrears reads and writes an ACB-style unpaids file: the same 02/04/92/94
  structure around *unpaid records* with identifier ``13`` (our choice). An unpaid record is the
  standard transaction as it was sent (positions 3-150, with the original sequence number,
  reference, amount and action date), then 151-152 the unpaid reason code, 153-158 the date the
  debit was returned, 159-166 blank, 167-168 homing institution, 169-180 blank. Its user
  trailer counts the unpaids as debit records (no credits, no contras) and hashes their
  accounts. Sequence numbers are the originals, so they need not be consecutive. An unpaids
  file with no unpaids has no user set.
* Bank answers as CSV (``reference, amount, status, reason``): see
  :mod:`arrears.premiums.acb.answers`.
"""

from arrears.premiums.acb.answers import BankAnswer, CsvAnswers, RowError, parse_answers_csv
from arrears.premiums.acb.debit import (
    DebitItem,
    ParsedFile,
    ParsedTransaction,
    ParsedUserSet,
    build_debit_file,
    parse_file,
)
from arrears.premiums.acb.envelope import UserInfo, hash_total, to_cents
from arrears.premiums.acb.errors import AcbFormatError
from arrears.premiums.acb.layout import (
    CONTRA,
    INSTALLATION_HEADER,
    INSTALLATION_TRAILER,
    RECORD_LENGTH,
    RECORD_SPECS,
    STANDARD_TRANSACTION,
    UNPAID,
    USER_HEADER,
    USER_TRAILER,
    Field,
    Kind,
    RecordSpec,
    RecordType,
    Value,
    parse_record,
    write_record,
)
from arrears.premiums.acb.unpaids import (
    ParsedUnpaid,
    UnpaidItem,
    UnpaidsFile,
    build_unpaids_file,
    parse_unpaids_file,
)

__all__ = [
    "CONTRA",
    "INSTALLATION_HEADER",
    "INSTALLATION_TRAILER",
    "RECORD_LENGTH",
    "RECORD_SPECS",
    "STANDARD_TRANSACTION",
    "UNPAID",
    "USER_HEADER",
    "USER_TRAILER",
    "AcbFormatError",
    "BankAnswer",
    "CsvAnswers",
    "DebitItem",
    "Field",
    "Kind",
    "ParsedFile",
    "ParsedTransaction",
    "ParsedUnpaid",
    "ParsedUserSet",
    "RecordSpec",
    "RecordType",
    "RowError",
    "UnpaidItem",
    "UnpaidsFile",
    "UserInfo",
    "Value",
    "build_debit_file",
    "build_unpaids_file",
    "hash_total",
    "parse_answers_csv",
    "parse_file",
    "parse_record",
    "parse_unpaids_file",
    "to_cents",
    "write_record",
]
