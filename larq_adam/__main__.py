"""``python -m larq_adam``: the ``larq-adam`` command."""
import sys

from larq_adam.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
