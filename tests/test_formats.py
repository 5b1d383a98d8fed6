"""larq_adam.formats: the one way a number is written, and no second one elsewhere."""
import ast
import math
from pathlib import Path

import pytest

from larq_adam import formats

PACKAGE = Path(formats.__file__).parent


@pytest.mark.parametrize("value, spec, kwargs, text", [
    (0.1234, ".1f", {"scale": 100, "suffix": "%"}, "12.3%"),
    (None, ".4g", {}, "-"),
    (math.nan, ".3g", {}, "-"),
    (math.inf, ".3g", {"missing": "inf"}, "inf"),
    ("n/a", ".3g", {}, "-"),
    (4.5e-4, ".3e", {}, "4.500e-04"),
])
def test_number_formats_finite_values_and_names_the_missing(value, spec, kwargs, text):
    assert formats.number(value, spec, **kwargs) == text


def test_the_named_formats_are_number_with_their_spec():
    assert formats.pct(0.5512) == "55.12"
    assert formats.sci(4.5e-4) == "4.500e-04"
    assert formats.fix(0.66) == "0.6600"
    assert formats.num(None) == "default"
    assert formats.count(29343592.0) == "29,343,592"
    assert formats.megabytes(77_855_000) == "77.86 MB"  # / 1e6 (x 1e-6 rounds to 77.85)
    assert formats.ms(1.234) == "1.23 ms"


def _dash_fallbacks(path: Path):
    """``X if ... else "-"`` (or ``"-" if ...``) expressions in one module."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.IfExp) and any(
                isinstance(side, ast.Constant) and side.value == "-"
                for side in (node.body, node.orelse)):
            yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"


def test_no_module_but_formats_writes_its_own_missing_number():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) if path.name != "formats.py"
             for hit in _dash_fallbacks(path)]
    assert not found, f"format numbers with larq_adam.formats.number: {found}"
