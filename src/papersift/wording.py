"""Counts in plain English, for messages a person reads: '1 paper', '3 papers'."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
