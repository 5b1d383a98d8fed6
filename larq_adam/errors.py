"""The exceptions larq-adam raises for problems a user can fix.

Every one carries a message of one line that names the problem and the fix, so a command
line can print ``str(error)`` alone (no traceback) and exit with status 2. They also derive
from the built-in class a caller would expect (``ValueError`` for a bad argument,
``FileNotFoundError`` for a missing file), so ``except ValueError`` keeps working.
"""

__all__ = ["LarqAdamError", "UserInputError", "CorruptFileError", "RunStateError",
           "MissingDependencyError", "UntrustedFileError"]


class LarqAdamError(Exception):
    """Base class: a problem with the user's input, files or run folder, with its fix."""


class UserInputError(LarqAdamError, ValueError):
    """A name or number given by the user is not valid (what is wrong, what is valid)."""


class CorruptFileError(LarqAdamError, OSError):
    """A file the project wrote or reads is unreadable (names the file and what to do)."""


class RunStateError(LarqAdamError, RuntimeError):
    """A run folder is not in the state the command needs (e.g. resume with nothing to
    resume, or another run's settings)."""


class MissingDependencyError(LarqAdamError, ImportError):
    """An optional package the call needs is not installed (says how to install it)."""


class UntrustedFileError(UserInputError):
    """A file asks for more than data to be read (a pickled global that is not a tensor or
    a container, a Keras ``Lambda`` layer's code, an unknown layer class): refused unless the
    caller says the file is trusted (``trust=True``, ``--trust-checkpoint`` /
    ``--trust-model``), since reading it would run code it carries."""
