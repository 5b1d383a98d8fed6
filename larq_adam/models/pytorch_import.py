"""Trained PyTorch weights into the Keras models: ReActNet-A checkpoints and ResNet teachers.

The paper's ReActNet-A (Table 3) is trained in two steps in PyTorch; the checkpoints such a
training writes (``torch.save({"epoch", "state_dict", "best_top1_acc", "optimizer"})``,
keys prefixed ``module.`` by ``DataParallel``) hold step 1 (binary activations, BA) or
step 2 (binary activations and weights, BNN). Both releases read: AdamBNN's (steps 1 and 2:
binary conv weights ``weight`` ``(O, I, k, k)``) and ReActNet's (step 1 the same, step 2
``weights`` stored flat ``(O*I*k*k, 1)``); their 298 keys at 1000 classes are pinned in the
tests. The teacher of the distributional loss is a real-valued ResNet-34 with torchvision's
parameter names. :func:`from_pytorch` builds the matching Keras model with
:func:`larq_adam.models.build_model` and loads every tensor:

==========================================  ===================================
PyTorch (``feature.i`` = ReActNet block i)   Keras
==========================================  ===================================
``feature.0.conv1`` / ``feature.0.bn1``      ``stem_conv`` / ``stem_bn``
``feature.i.move11``, ``.move21``            ``block{i:02d}_move11``, ``_move21``
``feature.i.binary_3x3``, ``.bn1``           ``block{i:02d}_conv3x3``, ``_bn1``
``.move12`` / ``.prelu1`` / ``.move13``      ``_rprelu1`` (shift_x / alpha / shift_y)
``.binary_pw``, ``.bn2``                     ``_conv1x1``, ``_bn2``
``.binary_pw_down{1,2}``, ``.bn2_{1,2}``     ``_conv1x1{a,b}``, ``_bn2{a,b}``
``.move22`` / ``.prelu2`` / ``.move23``      ``_rprelu2``
``conv1``, ``bn1`` (ResNet)                  ``stem_conv``, ``stem_bn``
``layer{s}.{b}.conv1/bn1/conv2/bn2``         ``stage{s}_block{b+1}_conv1/...``
``layer{s}.{b}.downsample.0`` / ``.1``       ``stage{s}_block{b+1}_shortcut_conv`` / ``_bn``
``fc``                                       ``fc``
==========================================  ===================================

Layouts: conv ``(O, I, kh, kw)`` -> ``(kh, kw, I, O)`` (binary convs may also be stored flat,
``(O*I*kh*kw, 1)``, named ``weights`` in ReActNet's step-2 release); shifts ``(1, C, 1, 1)``
-> ``(1, 1, 1, C)``; linear ``(out, in)`` ->
``(in, out)``; BatchNorm ``weight, bias, running_mean, running_var`` -> ``gamma, beta,
moving_mean, moving_variance`` (``num_batches_tracked`` is read and not needed). Every
tensor is used exactly once; a missing, unexpected or misshapen one is an error with a
one-line message (:class:`larq_adam.errors.UserInputError`,
:class:`larq_adam.errors.CorruptFileError`): there is no partial load.

Files are read with ``torch.load(weights_only=True)``: tensors, numbers, strings and
containers (all a training checkpoint holds, the optimizer state included) and nothing that
runs code. A file whose pickle asks for anything else is refused
(:class:`larq_adam.errors.UntrustedFileError`) unless ``trust=True``; PyTorch before 2.6
runs code even with ``weights_only=True`` (CVE-2025-32434) and is refused the same way.
"""
import os
import re
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import larq as lq
import numpy as np
import tensorflow as tf

from larq_adam import errors, vocabulary
from larq_adam.layers import LearnableBias, RPReLU
from larq_adam.models._common import base_channels
from larq_adam.errors import WrongTypeError

__all__ = ["from_pytorch", "load_state_dict", "detect_architecture",
           "SUPPORTED"]

INSTALL_HINT = 'pip install "larq-adam[torch]" (or pip install torch)'
SUPPORTED = vocabulary.PYTORCH_IMPORTABLE
# Channels of the first layer at width 1.0: ReActNet-A's stem, ResNet's layer1.
_REFERENCE_CHANNELS = {"reactnet_a": 32, "resnet18": 64, "resnet34": 64}
_STEM_KEY = {"reactnet_a": "feature.0.conv1.weight", "resnet18": "conv1.weight",
             "resnet34": "conv1.weight"}
_REACTNET_FIXED = {"stem_conv": "feature.0.conv1", "stem_bn": "feature.0.bn1", "fc": "fc"}
#: PyTorch releases before 2.6 run code from a pickle even with weights_only=True.
SAFE_TORCH = (2, 6)
_REACTNET_PARTS = {
    "move11": "move11", "conv3x3": "binary_3x3", "bn1": "bn1",
    "rprelu1": ("move12", "prelu1", "move13"), "move21": "move21",
    "conv1x1": "binary_pw", "bn2": "bn2", "conv1x1a": "binary_pw_down1",
    "conv1x1b": "binary_pw_down2", "bn2a": "bn2_1", "bn2b": "bn2_2",
    "rprelu2": ("move22", "prelu2", "move23"),
}
_RESNET_FIXED = {"stem_conv": "conv1", "stem_bn": "bn1", "fc": "fc"}
_RESNET_PARTS = {"conv1": "conv1", "bn1": "bn1", "conv2": "conv2", "bn2": "bn2",
                 "shortcut_conv": "downsample.0", "shortcut_bn": "downsample.1"}

Prefix = Union[str, Tuple[str, str, str]]
Spec = Dict[str, Tuple[str, str]]  # Keras weight name -> (PyTorch key, layout kind)


def _few(keys: Sequence[str], n: int = 4) -> str:
    keys = list(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > n else ""
    return ", ".join(repr(k) for k in keys[:n]) + more


# ----------------------------------------------------------------------------- reading


def _torch_version(torch: Any) -> Tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", str(torch.__version__))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _refused_global(exc: Exception) -> Optional[str]:
    """The global a ``weights_only`` unpickler refused (``os.system``, ...), if that is why
    ``torch.load`` failed."""
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    if match:
        return match.group(1)
    if "Weights only load failed" in str(exc) or "WeightsUnpickler" in str(exc):
        return "an object that is not a tensor, number, string or container"
    return None


def _load_file(path: str, *, trust: bool = False) -> Any:
    """``torch.load`` on the CPU (``weights_only`` unless ``trust``), errors turned into
    one-line messages naming the file."""
    if not os.path.isfile(path):
        raise errors.UserInputError(f"no PyTorch checkpoint at {path!r}: check the path")
    try:
        import torch
    except ImportError as exc:
        raise errors.MissingDependencyError(
            f"reading the PyTorch checkpoint {path!r} needs PyTorch: {INSTALL_HINT}") from exc
    if not trust and _torch_version(torch) < SAFE_TORCH:
        raise errors.UntrustedFileError(
            f"torch {torch.__version__} runs code from a checkpoint even with weights_only="
            f"True (CVE-2025-32434): install torch>=2.6 to read {path!r} safely, or pass "
            "trust=True (--trust-checkpoint) only for a file from a source you trust")
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust)
    except Exception as exc:  # noqa: BLE001  (zip, pickle and EOF errors alike)
        asked = None if trust else _refused_global(exc)
        if asked:
            raise errors.UntrustedFileError(
                f"{path!r} asks to unpickle {asked}, which is not checkpoint data: refused, "
                "since unpickling it would run code the file carries; pass trust=True "
                "(--trust-checkpoint) only for a file from a source you trust") from None
        reason = (str(exc).strip().splitlines() or [""])[0][:160]
        raise errors.CorruptFileError(
            f"cannot read the PyTorch checkpoint {path!r} (truncated, or not written by "
            f"torch.save: {type(exc).__name__}: {reason}); download or save it again") from exc


def _extract(obj: Any, where: str, error: type) -> Mapping[str, Any]:
    """The state dict inside ``obj``: a checkpoint dict's ``state_dict``, a module's
    ``state_dict()``, or ``obj`` itself."""
    if not isinstance(obj, Mapping) and callable(getattr(obj, "state_dict", None)):
        obj = obj.state_dict()
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise error(f"{where} holds no state dict (found {type(obj).__name__}); give a "
                    f"state dict or a checkpoint dict with a 'state_dict' entry")
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not hasattr(v, "shape")]
    if bad:
        raise error(f"{where}: entries {_few(bad)} are not tensors; give a state dict "
                    f"(name -> tensor) or a checkpoint dict with a 'state_dict' entry")
    return obj


def load_state_dict(source: Any, *, trust: bool = False) -> Dict[str, Any]:
    """The state dict of ``source`` with ``DataParallel``'s ``module.`` prefix removed.

    Args:
        source: a ``.pth``/``.pth.tar`` path, a state dict, a checkpoint dict
            (``{"epoch", "state_dict", "best_top1_acc", "optimizer"}``) or an
            ``nn.Module``. Files are unpickled in full: load only files you trust.

    Returns:
        ``{key: tensor}`` (PyTorch tensors or NumPy arrays, as given).
    """
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        state = _extract(_load_file(path, trust=trust), repr(path), errors.CorruptFileError)
    else:
        state = _extract(source, "the given object", errors.UserInputError)
    out: Dict[str, Any] = {}
    for key, value in state.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in out:
            raise errors.UserInputError(f"the state dict has both {name!r} and "
                                        f"'module.{name}'; keep one of them")
        out[name] = value
    return out


# ----------------------------------------------------------------------------- checks


def detect_architecture(state: Mapping[str, Any]) -> Optional[str]:
    """Which supported network a state dict looks like (``None``: none of them).

    ReActNet-A has ``feature.<i>`` modules; torchvision ResNets have ``conv1`` and
    ``layer1``..``layer4`` (ResNet-34 has six blocks in ``layer3``, ResNet-18 two); a
    ``conv3`` in a block means a bottleneck ResNet (50 and deeper), not a teacher here.
    """
    keys = list(state)
    if any(k.startswith("feature.") for k in keys):
        return "reactnet_a"
    if "conv1.weight" in state and any(k.startswith("layer1.") for k in keys):
        if any(re.match(r"layer\d\.\d+\.conv3\.", k) for k in keys):
            return "bottleneck ResNet (ResNet-50 or deeper)"
        blocks = {int(m.group(1)) for k in keys if (m := re.match(r"layer3\.(\d+)\.", k))}
        return "resnet34" if len(blocks) > 2 else "resnet18"
    return None


def _check_architecture(state: Mapping[str, Any], model: str) -> None:
    found = detect_architecture(state)
    if found == model:
        return
    if found is None:
        raise errors.UserInputError(
            f"the state dict does not look like {model} (nor any of {list(SUPPORTED)}); "
            f"its first keys are {_few(sorted(state), 3)}")
    sign = "'feature.<i>' keys" if found == "reactnet_a" else "'conv1' and 'layer1'..'layer4' keys"
    hint = f"pass model={found!r}" if found in SUPPORTED else "larq-adam does not build it"
    raise errors.UserInputError(
        f"the state dict looks like {found} ({sign}), not {model}: {hint}")


def _infer_size(state: Mapping[str, Any], model: str, num_classes: Optional[int],
                width: Optional[float]) -> Tuple[int, float, int]:
    """``(num_classes, width, stem kernel size)`` read from the tensors, checked against
    the given values."""
    missing = [k for k in (_STEM_KEY[model], "fc.weight") if k not in state]
    if missing:
        raise errors.UserInputError(f"the {model} state dict lacks {_few(missing)}")
    stem, fc = tuple(state[_STEM_KEY[model]].shape), tuple(state["fc.weight"].shape)
    if len(stem) != 4 or len(fc) != 2:
        raise errors.UserInputError(
            f"{_STEM_KEY[model]!r} has shape {stem} and 'fc.weight' {fc}; expected a 4-D "
            f"conv weight (O, I, kh, kw) and a 2-D linear weight (out, in)")
    ref, channels = _REFERENCE_CHANNELS[model], stem[0]
    if num_classes is not None and int(num_classes) != fc[0]:
        raise errors.UserInputError(
            f"num_classes={num_classes} does not match the checkpoint, whose 'fc.weight' "
            f"{fc} has {fc[0]} classes; omit num_classes or pass {fc[0]}")
    if width is not None and base_channels(ref, width) != channels:
        raise errors.UserInputError(
            f"width={width} gives {base_channels(ref, width)} channels in the first layer "
            f"but the checkpoint has {channels} ({_STEM_KEY[model]!r} {stem}), i.e. width "
            f"{channels / ref:g}; omit width or pass {channels / ref:g}")
    if base_channels(ref, channels / ref) != channels:
        raise errors.UserInputError(
            f"the checkpoint's first layer has {channels} channels; larq-adam's {model} "
            f"has at least {base_channels(ref, 1e-9)} there")
    return fc[0], (width if width is not None else channels / ref), stem[-1]


# ----------------------------------------------------------------------------- mapping


def _torch_prefix(model: str, layer_name: str) -> Optional[Prefix]:
    """The PyTorch module name(s) of a Keras layer (a triple for RPReLU's three tensors)."""
    fixed, parts = ((_REACTNET_FIXED, _REACTNET_PARTS) if model == "reactnet_a"
                    else (_RESNET_FIXED, _RESNET_PARTS))
    if layer_name in fixed:
        return fixed[layer_name]
    if model == "reactnet_a":
        m = re.fullmatch(r"block(\d+)_(\w+)", layer_name)
        where = m and f"feature.{int(m.group(1))}."
    else:
        m = re.fullmatch(r"stage(\d)_block(\d+)_(\w+)", layer_name)
        where = m and f"layer{m.group(1)}.{int(m.group(2)) - 1}."
    part = parts.get(m.group(m.lastindex)) if m else None
    if part is None:
        return None
    return where + part if isinstance(part, str) else tuple(where + p for p in part)


def _layer_spec(layer: tf.keras.layers.Layer, prefix: Prefix) -> Spec:
    """Keras weight name -> (PyTorch key, layout kind) for one layer."""
    if isinstance(layer, RPReLU):
        a, b, c = prefix
        return {"shift_x": (f"{a}.bias", "shift"), "alpha": (f"{b}.weight", "vector"),
                "shift_y": (f"{c}.bias", "shift")}
    if isinstance(layer, LearnableBias):
        return {"bias": (f"{prefix}.bias", "shift")}
    if isinstance(layer, tf.keras.layers.BatchNormalization):
        return {"gamma": (f"{prefix}.weight", "vector"), "beta": (f"{prefix}.bias", "vector"),
                "moving_mean": (f"{prefix}.running_mean", "vector"),
                "moving_variance": (f"{prefix}.running_var", "vector")}
    if isinstance(layer, tf.keras.layers.Dense):
        return {"kernel": (f"{prefix}.weight", "dense"), "bias": (f"{prefix}.bias", "vector")}
    if isinstance(layer, tf.keras.layers.Conv2D):
        kind = "binary_conv" if isinstance(layer, lq.layers.QuantConv2D) else "conv"
        spec = {"kernel": (f"{prefix}.weight", kind)}
        if layer.use_bias:
            spec["bias"] = (f"{prefix}.bias", "vector")
        return spec
    raise WrongTypeError(f"no PyTorch layout for Keras layer {layer.name!r} ({type(layer).__name__})")


def _weight_name(variable: tf.Variable) -> str:
    return variable.name.split("/")[-1].split(":")[0]


def _plan(net: tf.keras.Model, model: str) -> List[Tuple[tf.keras.layers.Layer, Spec]]:
    """Every weighted layer of ``net`` with its spec; raises if one has no counterpart."""
    plan = []
    for layer in net.layers:
        if not layer.weights:
            continue
        prefix = _torch_prefix(model, layer.name)
        if prefix is None:
            raise WrongTypeError(f"Keras layer {layer.name!r} of {model} has no PyTorch counterpart")
        spec = _layer_spec(layer, prefix)
        names = [_weight_name(v) for v in layer.weights]
        if sorted(names) != sorted(spec):
            raise WrongTypeError(
                f"Keras layer {layer.name!r} has weights {names}, expected {list(spec)}")
        plan.append((layer, spec))
    return plan


def _torch_shape(kind: str, keras_shape: Tuple[int, ...]) -> Tuple[int, ...]:
    if kind in ("conv", "binary_conv"):
        kh, kw, cin, cout = keras_shape
        return cout, cin, kh, kw
    if kind == "shift":
        return 1, keras_shape[-1], 1, 1
    if kind == "dense":
        return keras_shape[1], keras_shape[0]
    return keras_shape


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor; half precisions have no NumPy form
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.float16", "torch.bfloat16"):
            value = value.float()
        return value.numpy()
    return np.asarray(value)


def _convert(key: str, value: Any, kind: str, keras_shape: Tuple[int, ...],
             layer_name: str) -> np.ndarray:
    """One PyTorch tensor in the Keras layout, its shape checked."""
    expected = _torch_shape(kind, keras_shape)
    shape = tuple(int(d) for d in value.shape)
    array = _numpy(value)
    if shape != expected and kind == "binary_conv" and shape == (int(np.prod(expected)), 1):
        array = array.reshape(expected)  # the flat (O*I*kh*kw, 1) storage of step 2
    elif shape != expected:
        flat = f" (or flat {(int(np.prod(expected)), 1)})" if kind == "binary_conv" else ""
        raise errors.UserInputError(
            f"shape mismatch for {key!r}: the checkpoint has {shape}, Keras layer "
            f"{layer_name!r} needs {expected}{flat}")
    if kind in ("conv", "binary_conv"):
        array = array.transpose(2, 3, 1, 0)
    elif kind == "shift":
        array = array.reshape(keras_shape)
    elif kind == "dense":
        array = array.T
    return np.ascontiguousarray(array)


def _check_keys(state: Mapping[str, Any], plan: List[Tuple[Any, Spec]], model: str) -> None:
    """Every needed key present, no other key (``num_batches_tracked`` of a mapped BN is
    allowed and unused)."""
    needed = [key for _, spec in plan for key, _ in spec.values()]
    optional = {f"{key.rsplit('.', 1)[0]}.num_batches_tracked" for key in needed
                if key.endswith(".running_mean")}
    missing = [k for k in needed if k not in state]
    unexpected = sorted(set(state) - set(needed) - optional)
    also = (f"; it also has {len(unexpected)} unexpected: {_few(unexpected, 3)}"
            if unexpected else "")
    if missing:
        raise errors.UserInputError(
            f"the checkpoint lacks {len(missing)} tensor(s) of {model}: {_few(missing)}{also}")
    if unexpected:
        raise errors.UserInputError(
            f"the checkpoint has {len(unexpected)} tensor(s) that {model} does not have: "
            f"{_few(unexpected)}")


def _flat_weights_keys(plan: List[Tuple[Any, Spec]], state: Mapping[str, Any]
                       ) -> List[Tuple[Any, Spec]]:
    """The plan with ``X.weights`` for a binary conv's ``X.weight`` where the checkpoint
    stores it so (ReActNet's step-2 release: ``HardBinaryConv.weights``, flat)."""
    out = []
    for layer, spec in plan:
        spec = {name: ((key + "s", kind) if kind == "binary_conv" and key not in state
                       and key + "s" in state else (key, kind))
                for name, (key, kind) in spec.items()}
        out.append((layer, spec))
    return out


def _assign(net: tf.keras.Model, model: str, state: Mapping[str, Any]) -> None:
    plan = _flat_weights_keys(_plan(net, model), state)
    _check_keys(state, plan, model)
    values = []
    zeros: Dict[str, int] = {}
    for layer, spec in plan:  # convert everything first: no half-loaded model on error
        arrays = []
        for variable in layer.weights:
            key, kind = spec[_weight_name(variable)]
            arrays.append(_convert(key, state[key], kind, tuple(variable.shape), layer.name))
            if kind == "binary_conv" and _binary_kernel(layer) and not arrays[-1].all():
                zeros[key] = int(arrays[-1].size - np.count_nonzero(arrays[-1]))
        values.append(arrays)
    for (layer, _), arrays in zip(plan, values):
        layer.set_weights(arrays)
    if zeros:
        warnings.warn(
            f"{sum(zeros.values())} binary weight(s) of the checkpoint are exactly 0 "
            f"({_few(sorted(zeros), 2)}): PyTorch's sign makes them 0, Keras and LCE +1 "
            f"(Eq. 2 has no 0), so the outputs of those channels differ slightly", stacklevel=3)


def _binary_kernel(layer: tf.keras.layers.Layer) -> bool:
    return getattr(getattr(layer, "kernel_quantizer", None), "precision", None) == 1


# ----------------------------------------------------------------------------- entry point


def from_pytorch(
    source: Any,
    *,
    model: str = "reactnet_a",
    stage: Optional[str] = None,
    input_shape: Sequence[int] = (224, 224, 3),
    num_classes: Optional[int] = None,
    width: Optional[float] = None,
    trust: bool = False,
    **build_kwargs: Any,
) -> tf.keras.Model:
    """Build ``model`` in Keras and load trained PyTorch weights into it.

    Args:
        source: a ``.pth``/``.pth.tar`` path, a state dict or a checkpoint dict (see
            :func:`load_state_dict`); ``module.`` prefixes are removed.
        model: "reactnet_a" (the paper's Table 3 network, keys of the authors' release) or
            "resnet18"/"resnet34" (torchvision's keys; the paper's teacher is ResNet-34).
        stage: ReActNet-A's binarization stage: "ba" for a step-1 checkpoint (binary
            activations, real weights), "bnn" (default) for step 2; binary conv weights
            may be 4-D or flat ``(n, 1)``. Teachers: None or "fp".
        input_shape: ``(H, W, C)``; ReActNet-A uses its stride-1 stem at <= 64 px. For a
            ResNet the stem kernel of the checkpoint decides (7x7: torchvision's stem and
            max-pool at any size; 3x3: the small-image form).
        num_classes, width: read from the tensors (``fc.weight``, the first layer's
            channels); when given they must match.
        trust: unpickle the file in full, running any code it carries (only for files
            from a source you trust); by default only tensors, numbers, strings and
            containers load (``torch.load(weights_only=True)``, torch >= 2.6).
        **build_kwargs: passed to :func:`larq_adam.models.build_model`, e.g.
            ``pad_values`` (0: the reference's zero padding) or ``dtype_policy``.

    Returns:
        The Keras model with every tensor loaded; eval-mode logits equal PyTorch's.

    Raises:
        larq_adam.errors.UserInputError: wrong architecture, width, class count, a
            missing/unexpected key or a shape mismatch.
        larq_adam.errors.CorruptFileError: an unreadable or truncated file.
        larq_adam.errors.UntrustedFileError: the file's pickle asks for more than data
            (or torch < 2.6) and ``trust`` is False.
        larq_adam.errors.MissingDependencyError: a file was given and ``torch`` is not installed.

    Example:
        >>> net = from_pytorch("reactnet_a_step2.pth.tar", model="reactnet_a")  # doctest: +SKIP
    """
    from larq_adam.models import build_model

    if model not in SUPPORTED:
        raise errors.UserInputError(f"from_pytorch reads {list(SUPPORTED)}, not {model!r}")
    state = load_state_dict(source, trust=trust)
    _check_architecture(state, model)
    num_classes, width, stem_kernel = _infer_size(state, model, num_classes, width)
    if model != "reactnet_a":
        small = stem_kernel == 3
        if build_kwargs.setdefault("small_input", small) != small:
            raise errors.UserInputError(
                f"small_input={build_kwargs['small_input']} does not match the checkpoint's "
                f"{stem_kernel}x{stem_kernel} stem (3x3: small-image form, 7x7: torchvision's)")
    elif stage is None:
        stage = "bnn"
    net = build_model(model, stage, input_shape=input_shape, num_classes=num_classes,
                      width=width, **build_kwargs)
    _assign(net, model, state)
    return net
