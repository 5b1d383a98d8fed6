"""``la.models.from_pytorch``: PyTorch ReActNet-A / ResNet weights give the same logits in
Keras (float64, 1e-10 of the logit scale), checkpoints load from files and dicts, and every
bad checkpoint gives one clear error."""
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import larq_adam as la  # noqa: E402
from larq_adam import errors  # noqa: E402
from larq_adam.errors import MissingDependencyError  # noqa: E402
from larq_adam.models.pytorch_import import from_pytorch  # noqa: E402
from larq_adam.torch_reference.reactnet import ReActNetA, weight_decay_groups  # noqa: E402
from larq_adam.torch_reference.resnet import ResNet  # noqa: E402

CLASSES, WIDTH, TOL = 10, 0.25, 1e-10


@pytest.fixture(autouse=True)
def _torch_seed():
    """PyTorch's initial weights are drawn from its global generator: fix it."""
    torch.manual_seed(0)


def _randomize(net: "torch.nn.Module", seed: int = 0) -> "torch.nn.Module":
    """Random non-trivial BN statistics, affine parameters, biases, shifts and slopes
    (convolution weights keep PyTorch's random init)."""
    g = torch.Generator().manual_seed(seed)

    def rand(t, lo, hi):
        t.copy_(lo + (hi - lo) * torch.rand(t.shape, generator=g, dtype=t.dtype))

    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if name.endswith(("running_var",)) or (name.endswith(".weight") and tensor.ndim == 1):
                rand(tensor, 0.5, 1.5)  # BN variance and gamma, PReLU slopes below
            elif name.endswith(("running_mean", ".bias")):
                rand(tensor, -0.3, 0.3)  # BN mean/beta, shifts, fc bias
        for name, module in net.named_modules():
            if isinstance(module, torch.nn.PReLU):
                rand(module.weight, 0.0, 0.5)
    return net


def _images(n: int, side: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, side, side, 3))


def _torch_logits(net, images: np.ndarray, train: bool = False) -> np.ndarray:
    net.train(train)
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        return net(x.to(next(net.parameters()).dtype)).numpy()


def _rel(keras_logits, torch_logits) -> float:
    diff = np.max(np.abs(np.asarray(keras_logits, np.float64) - torch_logits))
    return float(diff / np.max(np.abs(torch_logits)))


def _reactnet(stage="bnn", flat=False, stem_stride=1, seed=0):
    net = ReActNetA(num_classes=CLASSES, width=WIDTH, stem_stride=stem_stride, stage=stage,
                    flat_binary_weights=flat)
    return _randomize(net, seed).double().eval()


@pytest.mark.parametrize("side", [32, 96])
@pytest.mark.parametrize("stage,flat", [("ba", False), ("bnn", True), ("bnn", False)])
def test_reactnet_eval_logits_equal_pytorch_in_float64(stage, flat, side):
    net = _reactnet(stage, flat, stem_stride=1 if side <= 64 else 2)
    keras = from_pytorch(net.state_dict(), model="reactnet_a", stage=stage,
                         input_shape=(side, side, 3), dtype_policy="float64")
    images = _images(4, side)
    rel = _rel(keras(images, training=False), _torch_logits(net, images))
    print(f"reactnet_a {stage} flat={flat} {side}px: rel max diff {rel:.2e}")
    assert rel < TOL


@pytest.mark.parametrize("depth,side,small", [(18, 64, False), (18, 32, True), (34, 72, False)])
def test_resnet_eval_and_training_logits_equal_pytorch_in_float64(depth, side, small):
    net = _randomize(ResNet(depth, num_classes=CLASSES, width=WIDTH, small_input=small)).double()
    keras = from_pytorch(net.state_dict(), model=f"resnet{depth}",
                         input_shape=(side, side, 3), dtype_policy="float64")
    images = _images(4, side)
    rel_eval = _rel(keras(images, training=False), _torch_logits(net, images))
    rel_train = _rel(keras(images, training=True), _torch_logits(net, images, train=True))
    print(f"resnet{depth} {side}px small={small}: eval {rel_eval:.2e}, train {rel_train:.2e}")
    assert rel_eval < TOL and rel_train < TOL


def _checkpoint(net) -> dict:
    """The dict the authors' ``train.py`` saves, after one Adam step with their two groups
    (so the optimizer state holds moments and step counts), the model left unchanged."""
    groups = weight_decay_groups(net) if isinstance(net, ReActNetA) else (list(net.parameters()), [])
    opt = torch.optim.Adam([{"params": groups[1]}, {"params": groups[0], "weight_decay": 5e-6}],
                           lr=1e-3)
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    net.load_state_dict(saved)
    return {"epoch": 3, "state_dict": {"module." + k: v for k, v in net.state_dict().items()},
            "best_top1_acc": torch.tensor(12.5), "optimizer": opt.state_dict()}


class _CreatesFile:
    """Unpickling this opens (creates) a file: the shape of a checkpoint that runs code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "created_by_unpickling"
    path = tmp_path / "model_best.pth.tar"
    torch.save({**_checkpoint(_reactnet()), "payload": _CreatesFile(marker)}, path)
    assert not marker.exists()  # pickling does not run it
    with pytest.raises(errors.UntrustedFileError) as info:
        from_pytorch(str(path), input_shape=(32, 32, 3))
    message = str(info.value)
    assert "\n" not in message and "io.open" in message and "trust=True" in message
    assert "--trust-checkpoint" in message and not marker.exists()


def test_the_trust_opt_in_unpickles_in_full(tmp_path, capsys):
    from larq_adam.cli import main as cli

    marker = tmp_path / "created_by_unpickling"
    path = tmp_path / "model_best.pth.tar"
    torch.save({**_checkpoint(_reactnet().float()), "payload": _CreatesFile(marker)}, path)
    assert not marker.exists()
    args = ["import", str(path), "--image-size", "32", "--out", str(tmp_path / "m.h5")]
    assert cli.main(args) == 2 and not marker.exists()
    assert "--trust-checkpoint" in capsys.readouterr().err
    assert cli.main([*args, "--trust-checkpoint"]) == 0 and marker.exists()


def test_torch_before_2_6_is_refused_unless_trusted(tmp_path, monkeypatch):
    path = tmp_path / "model_best.pth.tar"
    torch.save(_checkpoint(_reactnet()), path)
    monkeypatch.setattr(torch, "__version__", "2.5.1")
    with pytest.raises(errors.UntrustedFileError, match=r"torch 2\.5\.1.*CVE-2025-32434"):
        from_pytorch(str(path), input_shape=(32, 32, 3))
    assert from_pytorch(str(path), input_shape=(32, 32, 3), trust=True).output_shape == (None, 10)


def test_checkpoint_file_and_in_memory_dict_load_the_same_weights(tmp_path):
    net = _reactnet("bnn", flat=True)
    path = tmp_path / "model_best.pth.tar"
    torch.save(_checkpoint(net), path)
    from_file = from_pytorch(str(path), input_shape=(32, 32, 3), dtype_policy="float64")
    from_dict = from_pytorch(_checkpoint(net), input_shape=(32, 32, 3), dtype_policy="float64")
    images = _images(2, 32)
    ref = _torch_logits(net, images)
    assert _rel(from_file(images), ref) < TOL and _rel(from_dict(images), ref) < TOL
    assert from_file.output_shape == (None, CLASSES)


def _small_state(model="reactnet_a"):
    if model == "reactnet_a":
        return {k: v.float() for k, v in _reactnet().state_dict().items()}
    return ResNet(18, num_classes=CLASSES, width=WIDTH, small_input=True).state_dict()


def _error(state, **kwargs) -> str:
    kwargs.setdefault("input_shape", (32, 32, 3))
    with pytest.raises(errors.LarqAdamError) as info:
        from_pytorch(state, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_and_unexpected_keys_are_named():
    state = _small_state()
    del state["feature.5.move21.bias"]
    message = _error(state)
    assert "lacks 1 tensor" in message and "feature.5.move21.bias" in message
    state = _small_state()
    state["feature.2.extra.weight"] = torch.zeros(3)
    message = _error(state)
    assert "does not have" in message and "feature.2.extra.weight" in message


def test_shape_mismatch_names_the_tensor_and_both_shapes():
    state = _small_state()
    state["feature.3.bn1.weight"] = torch.ones(7)
    message = _error(state)
    assert "feature.3.bn1.weight" in message and "(7,)" in message and "(32,)" in message


def test_exactly_zero_binary_weights_are_reported():
    state = _small_state()
    state["feature.3.binary_pw.weight"][0, 0, 0, 0] = 0.0
    with pytest.warns(UserWarning, match=r"1 binary weight.*exactly 0.*feature\.3\.binary_pw"):
        from_pytorch(state, input_shape=(32, 32, 3))


def test_another_architecture_says_which_it_looks_like():
    message = _error(_small_state("resnet18"), model="reactnet_a")
    assert "looks like resnet18" in message and "model='resnet18'" in message
    assert "looks like reactnet_a" in _error(_small_state(), model="resnet34")
    deeper = {k.replace("layer3.1.", "layer3.5."): v for k, v in _small_state("resnet18").items()}
    assert "model='resnet34'" in _error({**_small_state("resnet18"), **deeper}, model="resnet18")
    assert "does not look like" in _error({"conv.weight": torch.zeros(1)}, model="resnet18")


def test_width_and_class_count_must_match_the_tensors():
    message = _error(_small_state(), width=0.5)
    assert "width=0.5" in message and "width 0.25" in message
    message = _error(_small_state(), num_classes=100)
    assert "num_classes=100" in message and f"{CLASSES} classes" in message


def test_truncated_file_names_the_file(tmp_path):
    path = tmp_path / "step2.pth.tar"
    torch.save(_checkpoint(_reactnet()), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.CorruptFileError, match="step2.pth.tar"):
        from_pytorch(str(path), input_shape=(32, 32, 3))


def test_missing_torch_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "larq-adam\[torch\]"'):
        from_pytorch(str(path))


def test_pytorch_bnn_checkpoint_exports_to_lce_and_verifies(tmp_path):
    net = _randomize(ReActNetA(num_classes=CLASSES, width=WIDTH, stem_stride=1, stage="bnn",
                               flat_binary_weights=True)).eval()
    path = tmp_path / "step2.pth.tar"
    torch.save(_checkpoint(net), path)
    keras = from_pytorch(str(path), input_shape=(32, 32, 3))
    images = _images(16, 32).astype("float32")
    rel = _rel(keras(images, training=False), _torch_logits(net, images))
    print(f"float32 Keras vs PyTorch: rel max diff {rel:.2e}")
    assert rel < la.export.DEFAULT_RTOL
    info = la.export.to_lce(keras, tmp_path / "model.tflite", verbose=False)
    ops = la.export.op_report(info["path"], model=keras)  # raises if a conv stayed float
    assert ops["binary_convs"] == 13 + 8 + 2 * 5  # a 3x3 per block, 1x1: one or two (5 doubling)
    result = la.export.verify(keras, info["path"], images)
    print(f"LCE verify: {result['criterion']}, rel max diff {result['rel_max_diff']:.2e}")
    assert result["passed"] and result["criterion"] == "exact"


def test_import_command_explains_its_options_in_help(capsys):
    from larq_adam.cli import import_weights, main as cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["import", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--model", "--stage", "--image-size", "--num-classes", "--width", "--out",
                 "--lce", "--images", "DataParallel"):
        assert flag in text, flag
    assert import_weights.default_out("runs/model_best.pth.tar") == "runs/model_best.h5"


def test_import_command_saves_the_imported_model_and_reports_bad_input(tmp_path, capsys):
    import tensorflow as tf

    from larq_adam.cli import main as cli

    net = _reactnet("ba").float()
    path, out = tmp_path / "step1.pth.tar", tmp_path / "step1.h5"
    torch.save(_checkpoint(net), path)
    args = ["import", str(path), "--stage", "ba", "--image-size", "32"]
    assert cli.main([*args, "--out", str(out)]) == 0
    saved = tf.keras.models.load_model(out, compile=False)
    direct = from_pytorch(str(path), stage="ba", input_shape=(32, 32, 3))
    images = _images(2, 32).astype("float32")
    np.testing.assert_array_equal(saved(images).numpy(), direct(images).numpy())
    assert cli.main([*args, "--width", "0.5"]) == 2
    assert "error: width=0.5" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("flat", [False, True], ids=["adambnn_weight_4d", "reactnet_weights_flat"])
def test_import_command_exports_and_verifies_both_release_layouts(tmp_path, flat):
    """A checkpoint in the authors' layout (their dict, DataParallel keys, AdamBNN's 4-D
    ``weight`` or ReActNet's flat ``weights``) -> ``larq-adam import --lce`` -> exact."""
    import json

    from larq_adam.cli import main as cli

    path = tmp_path / "step2.pth.tar"
    torch.save(_checkpoint(_reactnet("bnn", flat=flat).float()), path)
    assert any(k.endswith("binary_3x3.weights") == flat
               for k in torch.load(path, weights_only=True)["state_dict"])
    np.save(tmp_path / "images.npy", _images(16, 32).astype("float32"))
    assert cli.main(["import", str(path), "--image-size", "32", "--lce", "--images",
                     str(tmp_path / "images.npy"), "--out", str(tmp_path / "model.h5")]) == 0
    assert (tmp_path / "model.tflite").exists() and (tmp_path / "model.json").exists()
    verify = json.loads((tmp_path / "export.json").read_text())["verify"]
    assert verify["passed"] and verify["criterion"] == "exact"
