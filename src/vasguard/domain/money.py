"""Money is integer fen everywhere; only display turns it into yuan."""

from __future__ import annotations


def yuan(fen: int) -> str:
    """Render fen as the operator writes prices in SMS: ``300`` → ``3元``, ``50`` → ``0.5元``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money must be integer fen, got {fen!r}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    if cents == 0:
        return f"{sign}{whole}元"
    return f"{sign}{whole}.{cents:02d}".rstrip("0") + "元"


def yuan_en(fen: int) -> str:
    """English rendering: ``300`` → ``CNY 3``, ``50`` → ``CNY 0.5``."""
    return "CNY " + yuan(fen).removesuffix("元")


def yuan_decimal(fen: int) -> str:
    """Fen as yuan with two decimals, for tables and charts of amounts: ``250`` → ``2.50``."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money must be integer fen, got {fen!r}")
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"
