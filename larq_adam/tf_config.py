"""``TF_CONFIG``, the cluster description of a multi-worker run, read without TensorFlow.

:func:`check_tf_config` names what is missing or malformed in one line (the command line
checks it before TensorFlow loads); :func:`is_chief` says whether this process is the
chief, the worker that writes the run folder itself (the others write private copies in
``RUN/.workers/``).
"""
import json
import os
from typing import Any, Dict

from larq_adam.errors import SetupError, UserInputError

__all__ = ["TF_CONFIG_HELP", "check_tf_config", "is_chief"]

TF_CONFIG_HELP = (
    "set the TF_CONFIG environment variable on every worker before starting Python, e.g. "
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}\' (index = this worker\'s position); see '
    "https://www.tensorflow.org/guide/distributed_training#TF_CONFIG"
)


def check_tf_config() -> Dict[str, Any]:
    """The parsed ``TF_CONFIG``; :class:`SetupError` (a ``RuntimeError``) when it is not
    set, :class:`UserInputError` (a ``ValueError``) when it is malformed."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise SetupError(
            f"strategy 'multiworker' needs TF_CONFIG, which is not set: {TF_CONFIG_HELP}")
    try:
        config = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as error:
        raise UserInputError(f"TF_CONFIG is not valid JSON ({error}): {TF_CONFIG_HELP}") \
            from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster.get("worker") and not cluster.get("chief"):
        raise UserInputError(f"TF_CONFIG has no cluster with workers: {TF_CONFIG_HELP}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise UserInputError(f"TF_CONFIG has no task {{type, index}}: {TF_CONFIG_HELP}")
    members = cluster.get(task["type"])
    index = task["index"]
    if not isinstance(members, list) or not isinstance(index, int) \
            or not 0 <= index < len(members):
        raise UserInputError(f"TF_CONFIG task {task} does not name a member of the cluster "
                             f"{cluster}: {TF_CONFIG_HELP}")
    return config


def is_chief(config: Dict[str, Any]) -> bool:
    """Whether the task of ``config`` (a checked ``TF_CONFIG``) is the chief: the
    ``chief`` task, or worker 0 of a cluster without one."""
    task, cluster = config["task"], config["cluster"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task["index"] == 0 and not cluster.get("chief")
