"""Debtor books laid out the way accounting and dispensing packages export them (issue 21): each
layout is made by the tests (never a binary from elsewhere) with the accounts it must yield."""
