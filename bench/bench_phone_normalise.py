"""Benchmark (not a test): normalise_phone against phonenumbers for a debtor book's phones.

    uv run --frozen python bench/bench_phone_normalise.py [count]

Prints our time, the time of phonenumbers.parse alone and of parse + is_valid_number + format
(what a plain phonenumbers implementation has to do per number), and the ratios.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable

import phonenumbers

from arrears.debtors.reading.phones import normalise_phone

DEFAULT_COUNT = 200_000
REPEATS = 3


def sample_phones(count: int, seed: int = 20250131, sa_only: bool = False) -> list[object]:
    """Phones as they come out of South African age analyses: mostly SA mobiles and landlines in
    the usual shapes, numeric cells, a few foreign numbers and some rubbish."""
    rng = random.Random(seed)
    prefixes = ["82", "83", "84", "72", "73", "74", "76", "79", "81", "60", "61", "11", "21", "31", "12"]
    phones: list[object] = []
    for _ in range(count):
        national = rng.choice(prefixes) + f"{rng.randrange(10_000_000):07d}"
        a, b, c = national[:2], national[2:5], national[5:]
        roll = rng.random() * (0.92 if sa_only else 1.0)
        if roll < 0.35:
            phones.append("0" + national)
        elif roll < 0.55:
            phones.append(f"0{a} {b} {c}")
        elif roll < 0.65:
            phones.append(f"+27 {a} {b} {c}")
        elif roll < 0.75:
            phones.append("27" + national)
        elif roll < 0.82:
            phones.append(float(national))  # a numeric cell that lost its 0
        elif roll < 0.88:
            phones.append(f"(0{a}) {b}-{c}")
        elif roll < 0.92:
            phones.append(f"0{a}-{b}-{c}")
        elif roll < 0.95:
            phones.append(rng.choice(["+44 20 7946 0958", "+1 212 555 0123", "+263 77 123 4567"]))
        elif roll < 0.98:
            phones.append(rng.choice(["", "n/a", "0821", "TBA"]))
        else:
            phones.append(f"0{a} {b} {c} / 011 555 1234")
    return phones


def best_of(run: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def phonenumbers_parse_only(phones: list[object]) -> None:
    for value in phones:
        try:
            phonenumbers.parse(str(value), "ZA")
        except phonenumbers.NumberParseException:
            pass


def phonenumbers_full(phones: list[object]) -> None:
    for value in phones:
        try:
            number = phonenumbers.parse(str(value), "ZA")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def report(title: str, phones: list[object]) -> None:
    count = len(phones)
    ours = best_of(lambda: [normalise_phone(p) for p in phones])
    parse_only = best_of(lambda: phonenumbers_parse_only(phones))
    full = best_of(lambda: phonenumbers_full(phones))
    valid = sum(1 for p in phones if normalise_phone(p)[1])
    print(f"{title}: {count:,} phones ({valid / count:.1%} valid), best of {REPEATS} runs")
    print(f"  normalise_phone                     {ours:8.3f} s  {ours / count * 1e6:6.2f} us/number")
    print(
        f"  phonenumbers.parse                  {parse_only:8.3f} s  {parse_only / count * 1e6:6.2f} us/number"
    )
    print(f"  phonenumbers parse+valid+format     {full:8.3f} s  {full / count * 1e6:6.2f} us/number")
    print(f"  ratio parse / ours                  {parse_only / ours:8.1f}x")
    print(f"  ratio parse+valid+format / ours     {full / ours:8.1f}x")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_COUNT
    report("usual SA shapes (fast path)", sample_phones(count, sa_only=True))
    report("realistic mix (8% foreign, rubbish, two numbers)", sample_phones(count))


if __name__ == "__main__":
    main()
