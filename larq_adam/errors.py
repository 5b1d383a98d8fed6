"""The exceptions larq-adam raises for problems a user can fix.

Every one carries a message of one line that names the problem and the fix, so a command
line can print ``str(error)`` alone (no traceback) and exit with status 2. They also derive
from the built-in class a caller would expect (``ValueError`` for a bad argument,
``FileNotFoundError`` for a missing file), so ``except ValueError`` keeps working.
"""

__all__ = ["LarqAdamError", "UserInputError", "WrongTypeError", "UnknownKeyError",
           "UnsupportedError", "MissingFileError", "CorruptFileError", "RunStateError",
           "MissingDependencyError", "KerasVersionError", "UntrustedFileError",
           "RunLockedError", "DiskWriteError", "SetupError", "TrainingInterrupted"]


class LarqAdamError(Exception):
    """Base class: a problem with the user's input, files or run folder, with its fix."""


class UserInputError(LarqAdamError, ValueError):
    """A name or number given by the user is not valid (what is wrong, what is valid)."""


class WrongTypeError(LarqAdamError, TypeError):
    """An argument has the wrong type (names the argument, the type given and the one
    expected)."""


class UnknownKeyError(UserInputError, KeyError):
    """A key looked up by name is not there (names it and the valid keys)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnsupportedError(LarqAdamError, NotImplementedError):
    """A valid combination the code does not implement (names it and what works)."""


class MissingFileError(LarqAdamError, FileNotFoundError):
    """A file or folder the call needs is not there (names it and how to make it)."""


class CorruptFileError(LarqAdamError, OSError):
    """A file the project wrote or reads is unreadable (names the file and what to do)."""


class RunStateError(LarqAdamError, RuntimeError):
    """A run folder is not in the state the command needs (e.g. resume with nothing to
    resume, or another run's settings)."""


class MissingDependencyError(LarqAdamError, ImportError):
    """An optional package the call needs is not installed (says how to install it)."""


class KerasVersionError(LarqAdamError, ImportError):
    """``tf.keras`` already resolved to Keras 3 before larq_adam was imported; the message
    says how to start with Keras 2."""


class UntrustedFileError(UserInputError):
    """A file asks for more than data to be read (a pickled global that is not a tensor or
    a container, a Keras ``Lambda`` layer's code, an unknown layer class): refused unless the
    caller says the file is trusted (``trust=True``, ``--trust-checkpoint`` /
    ``--trust-model``), since reading it would run code it carries."""


class RunLockedError(RunStateError):
    """Another process is writing the run folder (its lock, ``RUN/.lock``, is held); the
    message names the holder's process id."""


class DiskWriteError(LarqAdamError, OSError):
    """A write failed because the disk is full or the place is not writable (read-only file
    system, no permission); the message names the file, the space or permission needed and
    the fix. ``errno`` and ``filename`` are those of the failed write."""

    def __init__(self, message: str, *, code=None, filename=None):
        super().__init__(message)
        self.errno = code
        self.filename = filename

    def __str__(self) -> str:
        return str(self.args[0])


class SetupError(LarqAdamError, RuntimeError):
    """The environment is not set up for the call (e.g. ``TF_CONFIG`` for a multi-worker
    strategy is missing or malformed); the message says what to set."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at a batch boundary on SIGINT or SIGTERM. ``signum`` is the signal,
    ``checkpoint`` the last complete checkpoint (kept; ``None`` when no epoch finished), and
    the message says how to continue (``--resume``). A ``KeyboardInterrupt``, so code that
    stops on Ctrl-C keeps stopping; the command line exits with status 128 + ``signum``
    (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, message: str, *, signum: int, checkpoint=None):
        super().__init__(message)
        self.signum = signum
        self.checkpoint = checkpoint
