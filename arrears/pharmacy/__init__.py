"""The pharmacy debtors domain (shared/specs/pharmacy-debtors-api.md): a pharmacy is an
organisation, its debtors are the debtor book's accounts (one per account number, the id stays
across reports), and a Debtors Age Analysis PDF is one report of that book.

- `access`: the caller acting for a pharmacy (404 when it is not theirs, 403 without write access)
- `debtors`: the spec's debtor shape, the filters, the list and the statistics
- `upload`: a PDF's extraction stored as one report; debtors missing from it are marked settled
- `reminders`: e-mail and SMS reminders through messaging's synchronous dispatch
- `communications`: every message to one debtor
- `exports.py` (written separately): CSV and PDF renderings of debtor rows
"""
