"""Debit-order runs, their bank files (ACB + CSV) and the reconciliation of the bank's answers.

* `models`: runs, run items, stored files (`debit_order_files`), reconciliation records and the
  per-captive settings (ACB user, schedule, auto-success days).
* `runs`: pick the due policies of a captive for an action date, create one pending collection per
  policy (idempotent), generate the files and move the collections to submitted.
* `files`: the ACB file and the CSV of a run.
* `reconciliation`: import an unpaids file or a CSV answer, match every line, move collections.
* `settlement`: collections still submitted N days after their action date become successful.
* `reports`: per run and per month, as JSON rows and CSV.
Every status change goes through `arrears.premiums.service` (the state machine and its events).
"""
