"""How the package writes one number in a table cell, a sentence or a console line ("-" when
there is none): the report, the claims scoreboard, the weight-decay pick and the step
summary line all format through :func:`number`."""
import math
from typing import Any

__all__ = ["finite", "number", "pct", "sci", "fix", "num", "count", "megabytes", "ms"]


def finite(value: Any) -> bool:
    """True when ``value`` reads as a finite float (not None, NaN, inf or text)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def number(value: Any, spec: str = ".4g", *, scale: float = 1.0, suffix: str = "",
           missing: str = "-") -> str:
    """``value * scale`` in the format ``spec`` followed by ``suffix``; ``missing`` when
    ``value`` is not a finite number: ``number(0.1234, ".1f", scale=100, suffix="%") ->
    "12.3%"``, ``number(None) -> "-"``."""
    return f"{format(float(value) * scale, spec)}{suffix}" if finite(value) else missing


def pct(value: Any) -> str:
    """A fraction in [0, 1] as a percentage with two decimals: ``0.5512 -> "55.12"``."""
    return number(value, ".2f", scale=100)


def sci(value: Any, digits: int = 3) -> str:
    """Scientific notation, e.g. the FF ratio (Eq. 4-5): ``4.5e-4 -> "4.500e-04"``."""
    return number(value, f".{digits}e")


def fix(value: Any, digits: int = 4) -> str:
    """Fixed decimals, e.g. the C2I ratio (Eq. 6-7): ``0.66 -> "0.6600"``."""
    return number(value, f".{digits}f")


def num(value: Any) -> str:
    """A setting such as a learning rate; ``"default"`` when it was left to the optimizer."""
    return number(value, "g", missing="default")


def count(value: Any) -> str:
    """An integer count with thousands separators: ``29343592 -> "29,343,592"``."""
    return f"{int(value):,}" if finite(value) else "-"  # int(): no ".0" on a float count


def megabytes(value: Any) -> str:
    """A byte count in MB (10^6 bytes)."""
    return number(float(value) / 1e6 if finite(value) else None, ".2f", suffix=" MB")


def ms(value: Any) -> str:
    """Milliseconds with two decimals."""
    return number(value, ".2f", suffix=" ms")
