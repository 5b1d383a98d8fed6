"""The ``larq-adam`` command (``python -m larq_adam``): see :mod:`larq_adam.cli.main`.

Each command is a module with ``add_arguments(parser)`` and ``run(args) -> int`` that
imports TensorFlow only inside ``run``.
"""
