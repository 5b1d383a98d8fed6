"""The authors' checkpoints, key for key: the 298 ``state_dict`` keys and shapes of their
1000-class ReActNet-A (``tests/data/reactnet_a_release_keys.json``, read off the released
``reactnet.py`` of AdamBNN's two steps and ReActNet's ``mobilenet`` steps) against
``torch_reference`` and against what ``from_pytorch`` reads, in both stages and both
binary-weight layouts (AdamBNN and ReActNet step 1: ``weight`` (O, I, k, k); ReActNet
step 2: ``weights`` (O*I*k*k, 1)). The import is strict: a missing, extra or doubled
tensor is refused."""
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from larq_adam import errors  # noqa: E402
from larq_adam.models.pytorch_import import from_pytorch  # noqa: E402
from larq_adam.torch_reference.reactnet import ReActNetA, weight_decay_groups  # noqa: E402

RELEASE = json.loads((Path(__file__).parent / "data" / "reactnet_a_release_keys.json").read_text())
LAYOUTS = {"weight_4d": False, "weights_flat": True}


def test_the_pinned_key_lists_hold_the_whole_network():
    for layout in LAYOUTS:
        keys = RELEASE[layout]
        assert len(keys) == RELEASE["count"] == 298
        assert sum(k.endswith("num_batches_tracked") for k in keys) == 1 + 8 * 2 + 5 * 3
        params = sum(int(np.prod(s)) for k, s in keys.items()
                     if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        assert params == 29_343_592  # Table 3's ReActNet-A at 1000 classes
    flat = {k for k, s in RELEASE["weights_flat"].items() if k.endswith(".weights")}
    assert len(flat) == 13 + 8 + 2 * 5 and all(len(RELEASE["weights_flat"][k]) == 2 for k in flat)


@pytest.mark.parametrize("stage", ["ba", "bnn"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_reference_state_dict_has_the_releases_keys_shapes_and_buffers(stage, layout):
    net = ReActNetA(num_classes=1000, stage=stage, flat_binary_weights=LAYOUTS[layout])
    got = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert list(got) == list(RELEASE[layout])  # the same keys in the same order
    assert got == RELEASE[layout]


def test_reference_decay_groups_follow_the_release_rule():
    """4-D or 'conv' in the name: 110 tensors with 4-D binary weights; the 31 flat ones of
    ReActNet's step 2 fall outside the decay group."""
    assert len(weight_decay_groups(ReActNetA(num_classes=1000))[0]) == 110
    assert len(weight_decay_groups(ReActNetA(num_classes=1000, flat_binary_weights=True))[0]) == 79


def _release_state(layout, seed=0):
    """A state dict as the authors' ``train.py`` saves it: DataParallel's ``module.`` prefix,
    the pinned keys and shapes, float32 tensors (BN variances positive)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in RELEASE[layout].items():
        value = rng.normal(size=shape).astype("float32")
        if key.endswith("running_var"):
            value = np.abs(value) + 0.5
        tensor = torch.tensor(7) if key.endswith("num_batches_tracked") else torch.from_numpy(value)
        state["module." + key] = tensor
    return state


@pytest.mark.parametrize("stage,layout", [("ba", "weight_4d"), ("bnn", "weight_4d"),
                                          ("bnn", "weights_flat")])
def test_importer_reads_every_pinned_tensor_of_both_releases(stage, layout):
    state = _release_state(layout)
    net = from_pytorch({"epoch": 255, "state_dict": state, "best_top1_acc": 70.5},
                       stage=stage, input_shape=(96, 96, 3))
    assert net.count_params() == 29_343_592 + 2 * sum(  # + the BN moving statistics
        RELEASE[layout][k][0] for k in RELEASE[layout] if k.endswith("running_mean"))
    kernel = net.get_layer("block05_conv3x3").kernel
    kernel = getattr(kernel, "latent_variable", kernel).numpy()
    stored = state["module.feature.5.binary_3x3." + ("weights" if "flat" in layout else "weight")]
    np.testing.assert_array_equal(kernel, stored.numpy().reshape(256, 256, 3, 3).transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(net.get_layer("stem_bn").moving_variance.numpy(),
                                  state["module.feature.0.bn1.running_var"].numpy())


def test_import_is_strict_no_partial_load():
    state = _release_state("weights_flat")
    del state["module.feature.13.move23.bias"]
    with pytest.raises(errors.UserInputError, match=r"lacks 1 tensor.*feature\.13\.move23\.bias"):
        from_pytorch(state, input_shape=(96, 96, 3))
    state = _release_state("weights_flat")
    state["module.feature.4.binary_3x3.weight"] = state["module.feature.4.binary_3x3.weights"]
    with pytest.raises(errors.UserInputError, match=r"does not have.*feature\.4\.binary_3x3\.weights?'"):
        from_pytorch(state, input_shape=(96, 96, 3))
    state = _release_state("weight_4d")
    state["module.feature.0.0.weight"] = state.pop("module.feature.0.conv1.weight")
    with pytest.raises(errors.UserInputError, match=r"feature\.0\.conv1\.weight"):
        from_pytorch(state, input_shape=(96, 96, 3))
