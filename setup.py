"""Packaging for larq-adam; the pins live in requirements*.txt."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _reqs(name: str) -> list:
    lines = (HERE / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


setup(
    name="larq-adam",
    version="0.1.0",
    description="Adam and training strategies for binary neural networks (Liu, Shen et al., "
    "ICML 2021) on Larq: models, analysis callbacks, two-step training, LCE export.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["larq_adam", "larq_adam.*"]),
    python_requires=">=3.9,<3.13",
    install_requires=_reqs("requirements.txt"),
    extras_require={"test": _reqs("requirements-test.txt"), "torch": ["torch"]},
)
