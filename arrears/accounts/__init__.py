"""Accounts owed: one row per debtor-book account and per loan, always with its customer, so that
collection status, tasks (and next promises and payments) hang off one kind of thing."""
