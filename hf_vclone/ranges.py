"""Small predicates shared by the recipe's value-range rules (config/rules.py and each backend's section)."""

from __future__ import annotations


def fraction(v: float) -> bool:
    """A share from 0 to 1."""
    return 0 <= v <= 1
