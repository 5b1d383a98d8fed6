"""The paper's experiments: its comparisons (:mod:`.paper`), the toy landscape of Fig. 6
(:mod:`.toy`), the claims scoreboard (:mod:`.claims`) and the weight-decay picker
(:mod:`.pick_decay`). Submodules load on first use."""
import importlib

_SUBMODULES = ("paper", "toy", "claims", "pick_decay", "stats")
__all__ = list(_SUBMODULES)


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"larq_adam.experiments.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'larq_adam.experiments' has no attribute {name!r}")
