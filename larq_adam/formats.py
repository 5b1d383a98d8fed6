"""How the report writes one number in a table cell or a sentence ("-" when there is none)."""
import math
from typing import Any

__all__ = ["finite", "pct", "sci", "fix", "num", "count", "megabytes", "ms"]


def finite(value: Any) -> bool:
    """True when ``value`` reads as a finite float (not None, NaN, inf or text)."""
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def pct(value: Any) -> str:
    """A fraction in [0, 1] as a percentage with two decimals: ``0.5512 -> "55.12"``."""
    return f"{100 * float(value):.2f}" if finite(value) else "-"


def sci(value: Any, digits: int = 3) -> str:
    """Scientific notation, e.g. the FF ratio (Eq. 4-5): ``4.5e-4 -> "4.500e-04"``."""
    return f"{float(value):.{digits}e}" if finite(value) else "-"


def fix(value: Any, digits: int = 4) -> str:
    """Fixed decimals, e.g. the C2I ratio (Eq. 6-7): ``0.66 -> "0.6600"``."""
    return f"{float(value):.{digits}f}" if finite(value) else "-"


def num(value: Any) -> str:
    """A setting such as a learning rate; ``"default"`` when it was left to the optimizer."""
    return f"{float(value):g}" if finite(value) else "default"


def count(value: Any) -> str:
    """An integer count with thousands separators: ``29343592 -> "29,343,592"``."""
    return f"{int(value):,}" if finite(value) else "-"


def megabytes(value: Any) -> str:
    """A byte count in MB (10^6 bytes)."""
    return f"{float(value) / 1e6:.2f} MB" if finite(value) else "-"


def ms(value: Any) -> str:
    """Milliseconds with two decimals."""
    return f"{float(value):.2f} ms" if finite(value) else "-"
