"""The dataset names :func:`larq_adam.data.load` takes, in plain Python (no TensorFlow).

:mod:`larq_adam.data` parses a name with :func:`parse_name`, and the command line calls it
before TensorFlow loads, so ``larq-adam train --dataset cifar1O`` is one line at once.
"""
from typing import List, Optional, Tuple

from larq_adam.errors import UserInputError

__all__ = ["NAMES", "PREFIXED", "available", "parse_name"]

#: the datasets with a fixed name (mnist5k ships with the package, the others come through
#: tensorflow-datasets); each is a key of ``larq_adam.data.SPECS``
NAMES = ("mnist5k", "cifar10", "cifar100", "imagenette", "imagenet2012")
#: prefix -> what follows it in a ``PREFIX:ARGUMENT`` name (as the error for a bare
#: ``PREFIX:`` says it)
PREFIXED = {"folder": "a path, e.g. 'folder:/data/my_images'",
            "tfds": "a tensorflow-datasets name, e.g. 'tfds:oxford_flowers102'"}


def available() -> List[str]:
    """The names :func:`parse_name` accepts, the prefixed ones as ``folder:PATH`` and
    ``tfds:NAME``."""
    return [*NAMES, "folder:PATH", "tfds:NAME"]


def parse_name(name: str) -> Tuple[str, Optional[str]]:
    """``(kind, folder path / tfds name or None)`` for a dataset name; UserInputError if
    unknown. Only the name's form is checked (not whether a folder or tfds set exists)."""
    for kind, example in PREFIXED.items():
        if isinstance(name, str) and name.startswith(kind + ":"):
            arg = name[len(kind) + 1:]
            if not arg:
                raise UserInputError(f"Dataset '{kind}:' needs {example}.")
            return kind, arg
    if name not in NAMES:
        raise UserInputError(f"Unknown dataset {name!r}. Valid names: {', '.join(available())}.")
    return name, None
