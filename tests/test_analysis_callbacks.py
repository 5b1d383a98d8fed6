"""The analysis callbacks in real `fit` runs, checked against weight snapshots and numpy."""
import json
import os
import subprocess
import sys
import textwrap

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

import larq_adam as la
from larq_adam.layers import LearnableBias, MeanScaledSign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_model(stage="bnn"):
    """A small ReActNet-like Larq model: LearnableBias -> binary conv -> BN, twice."""
    q = la.stages.quantizers
    inp = tf.keras.Input((8, 8, 3))
    x = tf.keras.layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    x = tf.keras.layers.BatchNormalization(name="bn0")(x)
    for i in range(2):
        x = LearnableBias(name=f"lb{i}")(x)
        x = lq.layers.QuantConv2D(8, 3, padding="same", use_bias=False, name=f"qconv{i}",
                                  **q(stage, "reactnet"))(x)
        x = tf.keras.layers.BatchNormalization(name=f"bn{i + 1}")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(4, name="fc")(x)
    return tf.keras.Model(inp, out)


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 3)).astype("float32"), rng.integers(0, 4, size=n)


def compile_(model, lr=0.05, **kwargs):
    model.compile(tf.keras.optimizers.Adam(lr),
                  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), **kwargs)
    return model


class Snapshots(tf.keras.callbacks.Callback):
    """The test's own record: latent kernels at train begin and after every batch."""

    def on_train_begin(self, logs=None):
        self.start = [k.numpy().copy() for k in la.analysis.binary_kernels(self.model)]
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append([])

    def on_train_batch_end(self, batch, logs=None):
        self.epochs[-1].append([k.numpy().copy() for k in la.analysis.binary_kernels(self.model)])

    def flips_per_step(self):
        """[[flip count of each iteration] per epoch], counted with numpy."""
        prev, out = self.start, []
        for epoch in self.epochs:
            out.append([])
            for snap in epoch:
                out[-1].append(sum(int(np.sum((a >= 0) != (b >= 0))) for a, b in zip(prev, snap)))
                prev = snap
        return out


# --------------------------------------------------------------------------- FF ratio
def test_flip_flop_ratio_equals_flips_counted_from_snapshots_after_every_batch(tmp_path):
    x, y = data()
    model = compile_(tiny_model())
    snaps = Snapshots()
    ff = la.analysis.FlipFlopRatio(record_dir=str(tmp_path))
    hist = model.fit(x, y, batch_size=8, epochs=3, verbose=0, shuffle=False, callbacks=[ff, snaps])
    n_total = sum(k.size for k in snaps.start)
    flips = snaps.flips_per_step()
    assert sum(map(sum, flips)) > 0, "the test needs some flips to be meaningful"
    run_flips, run_steps = 0, 0
    for e, epoch_flips in enumerate(flips):
        run_flips += sum(epoch_flips)
        run_steps += len(epoch_flips)
        assert hist.history["ff_ratio"][e] == sum(epoch_flips) / (n_total * len(epoch_flips))
        assert hist.history["ff_ratio_run"][e] == run_flips / (n_total * run_steps)
        # the mean of per-iteration fractions, Table 1's definition
        assert hist.history["ff_ratio"][e] == pytest.approx(np.mean(epoch_flips) / n_total, rel=1e-12)
    rec = la.analysis.load_records(str(tmp_path))["ff"]
    assert sorted(rec) == [0, 1, 2]
    assert rec[2]["layer_names"] == ["qconv0", "qconv1"]
    assert int(rec[1]["flips"].sum()) == sum(flips[1]) and rec[1]["steps"] == 6
    assert int(rec[2]["run_flips"].sum()) == run_flips and rec[2]["run_steps"] == run_steps
    np.testing.assert_array_equal(rec[0]["sizes"], [k.size for k in snaps.start])


def test_flip_flop_ratio_is_zero_when_weights_do_not_move():
    x, y = data(16)
    model = compile_(tiny_model(), lr=0.0)
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0,
                     callbacks=[la.analysis.FlipFlopRatio()])
    assert hist.history["ff_ratio"] == [0.0, 0.0]
    assert hist.history["ff_ratio_run"] == [0.0, 0.0]


def test_flip_flop_ratio_run_spans_fit_calls():
    x, y = data(16)
    model = compile_(tiny_model())
    ff, snaps = la.analysis.FlipFlopRatio(), Snapshots()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[ff, snaps])
    first = snaps.flips_per_step()[0]
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[ff, snaps])
    second = snaps.flips_per_step()[0]
    n_total = sum(k.size for k in snaps.start)
    assert hist.history["ff_ratio"][0] == sum(second) / (n_total * 2)
    assert hist.history["ff_ratio_run"][0] == (sum(first) + sum(second)) / (n_total * 4)


def test_ff_totals_and_c2i_reference_continue_from_a_checkpoint_in_a_new_model(tmp_path):
    """A training resumed from a tf.train.Checkpoint with the callbacks' state logs what
    one uninterrupted training logs: ff_ratio_run over all iterations (Table 1), C2I
    against the first start's weights."""
    x, y = data(16)
    tf.keras.utils.set_random_seed(1)
    whole = compile_(tiny_model())
    start = whole.get_weights()
    ff, c2i = la.analysis.FlipFlopRatio(), la.analysis.C2IRatio()
    for _ in range(2):
        hist = whole.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
                         callbacks=[ff, c2i])

    def fresh(weights):
        model = compile_(tiny_model())
        model.set_weights(weights)
        ff, c2i = la.analysis.FlipFlopRatio(), la.analysis.C2IRatio()
        ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer,
                                   ff=ff.checkpoint_state(model), c2i=c2i.checkpoint_state(model))
        return model, ff, c2i, ckpt

    model, ff1, c2i1, ckpt = fresh(start)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[ff1, c2i1])
    path = ckpt.save(str(tmp_path / "ckpt"))
    other = [np.negative(w) for w in start]  # other signs: the reference must be restored
    model, ff2, c2i2, ckpt = fresh(other)
    model.optimizer.build(model.trainable_variables)
    ckpt.restore(path).assert_existing_objects_matched()
    resumed = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
                        callbacks=[ff2, c2i2])
    assert hist.history["ff_ratio_run"][0] > 0
    assert resumed.history["ff_ratio_run"] == pytest.approx(hist.history["ff_ratio_run"],
                                                            rel=1e-6)
    assert resumed.history["c2i_ratio"] == pytest.approx(hist.history["c2i_ratio"], rel=1e-6)
    assert hist.history["c2i_ratio"][0] < 1.0  # some signs moved away from the start
    ff2.reset_state()
    c2i2.reset_state()  # a new training: totals zero, the reference the weights now
    again = model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
                      callbacks=[ff2, c2i2])
    assert again.history["ff_ratio_run"] == again.history["ff_ratio"]


def test_per_iteration_callbacks_reject_steps_per_execution_above_one_and_name_the_fix():
    x, y = data(16)
    model = compile_(tiny_model(), steps_per_execution=2)
    for cb in (la.analysis.FlipFlopRatio(), la.analysis.CAMStats()):
        with pytest.raises(ValueError, match="steps_per_execution=1"):
            model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])


def test_epoch_end_callbacks_work_with_steps_per_execution_above_one(tmp_path):
    x, y = data(32)
    model = compile_(tiny_model(), steps_per_execution=2)
    cbs = [la.analysis.C2IRatio(), la.analysis.CAMStats(update=False),
           la.analysis.ActivationSaturation(x[:8]), la.analysis.WeightHistograms(record_dir=str(tmp_path))]
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=cbs)
    for key in ("c2i_ratio", "cam_min", "sdam", "saturation", "latent_abs_gt1"):
        assert np.isfinite(hist.history[key][0]), key
    assert np.isnan(hist.history["update_cam_mean"][0])


# --------------------------------------------------------------------------- C2I
def test_c2i_ratio_against_numpy_for_the_start_a_list_a_model_and_an_npz_file(tmp_path):
    x, y = data(32)
    model = compile_(tiny_model())
    rng = np.random.default_rng(5)
    ref_list = [rng.normal(size=k.shape).astype("float32") for k in la.analysis.binary_kernels(model)]
    ref_model = tiny_model()
    npz, h5 = tmp_path / "ref.npz", tmp_path / "ref.h5"
    np.savez(npz, *ref_list)
    ref_model.save_weights(str(h5))
    start = [k.numpy().copy() for k in la.analysis.binary_kernels(model)]
    model_ref = [k.numpy().copy() for k in la.analysis.binary_kernels(ref_model)]
    cbs = [la.analysis.C2IRatio(), la.analysis.C2IRatio(ref_list), la.analysis.C2IRatio(ref_model),
           la.analysis.C2IRatio(str(npz)), la.analysis.C2IRatio(str(h5))]
    keys = []

    class Grab(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            keys.append(dict(logs))
            self.final = [k.numpy() for k in la.analysis.binary_kernels(self.model)]

    grab = Grab()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cbs[0], grab])
    np_c2i = lambda ref: 1 - sum(np.sum((a >= 0) != (b >= 0)) for a, b in zip(ref, grab.final)) / sum(a.size for a in ref)
    assert keys[0]["c2i_ratio"] == pytest.approx(np_c2i(start), abs=1e-12)
    assert keys[0]["c2i_ratio"] < 1.0
    for cb, ref in zip(cbs[1:], (ref_list, model_ref, ref_list, model_ref)):
        keys.clear()
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb, grab])
        assert keys[0]["c2i_ratio"] == pytest.approx(np_c2i(ref), abs=1e-12)


def test_c2i_ratio_rejects_a_reference_of_the_wrong_shape():
    x, y = data(8)
    model = compile_(tiny_model())
    with pytest.raises(ValueError, match="one array per binarized layer"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[la.analysis.C2IRatio([np.zeros((3, 3))])])
    with pytest.raises(TypeError, match="reference"):
        la.analysis.C2IRatio(reference=3.0)


# --------------------------------------------------------------------------- CAM
def test_cam_stats_log_pooled_cam_sdam_and_the_last_iterations_update_cam(tmp_path):
    x, y = data(32)
    model = compile_(tiny_model())
    snaps = Snapshots()
    cb = la.analysis.CAMStats(record_dir=str(tmp_path))
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=[cb, snaps])
    layers = la.analysis.binarizable_layers(model)
    for e in range(2):
        after, before = snaps.epochs[e][-1], snaps.epochs[e][-2]
        cams = np.concatenate([la.analysis.cam(k) for k in after])
        ups = np.concatenate([la.analysis.update_cam(b, a) for b, a in zip(before, after)])
        assert hist.history["cam_min"][e] == pytest.approx(cams.min(), rel=1e-5)
        assert hist.history["sdam"][e] == pytest.approx(cams.std(), rel=1e-4)
        assert hist.history["update_cam_mean"][e] == pytest.approx(ups.mean(), rel=1e-4)
        assert hist.history["update_cam_mean"][e] > 0
        for layer, kernel in zip(layers, after):  # per layer, as Fig. 4 shows the first
            assert hist.history[f"cam_min/{layer.name}"][e] == pytest.approx(
                la.analysis.cam(kernel).min(), rel=1e-5)
            assert hist.history[f"sdam/{layer.name}"][e] == pytest.approx(
                la.analysis.cam(kernel).std(), rel=1e-4)
        assert hist.history["cam_min_first"][e] == hist.history[f"cam_min/{layers[0].name}"][e]
        assert hist.history["sdam_first"][e] == hist.history[f"sdam/{layers[0].name}"][e]
    rec = la.analysis.load_records(str(tmp_path))["cam"][1]
    assert rec["layer_names"] == [l.name for l in layers]
    np.testing.assert_allclose(rec["cam"][1], la.analysis.cam(snaps.epochs[1][-1][1]), rtol=1e-5)
    np.testing.assert_allclose(
        rec["update_cam"][0], la.analysis.update_cam(snaps.epochs[1][-2][0], snaps.epochs[1][-1][0]),
        rtol=1e-4)
    first = snaps.epochs[1][-1][0]
    assert rec["first_weights"].dtype == np.float16
    np.testing.assert_allclose(rec["first_weights"], first.reshape(-1, 8).T, rtol=1e-3, atol=1e-4)


def test_cam_stats_with_selected_layers_and_unknown_epoch_length(tmp_path):
    x, y = data(24)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).filter(lambda a, b: True)  # unknown length
    model = compile_(tiny_model())
    snaps = Snapshots()
    hist = model.fit(ds, epochs=2, verbose=0,
                     callbacks=[la.analysis.CAMStats(layers=["qconv1"]), snaps])
    for e in range(2):
        b, a = snaps.epochs[e][-2][1], snaps.epochs[e][-1][1]
        assert hist.history["cam_min"][e] == pytest.approx(la.analysis.cam(a).min(), rel=1e-5)
        assert hist.history["update_cam_mean"][e] == pytest.approx(la.analysis.update_cam(b, a).mean(), rel=1e-4)
    with pytest.raises(ValueError, match="not a binarized layer"):
        model.fit(ds, epochs=1, verbose=0, callbacks=[la.analysis.CAMStats(layers=["fc"])])


# --------------------------------------------------------------------------- epoch-end mode
def test_epoch_end_measurements_run_eagerly_in_the_first_epochs_and_traced_after():
    from larq_adam.analysis.callbacks import EAGER_EPOCHS, _epoch_function

    modes = []

    def measure(x):
        modes.append(tf.executing_eagerly())  # a traced call runs this once, at its trace
        return x * 2

    fn = _epoch_function(measure)
    assert [int(fn(epoch, tf.constant(epoch))) for epoch in range(5)] == [0, 2, 4, 6, 8]
    assert modes == [True] * EAGER_EPOCHS + [False]  # one trace serves the later epochs
    resumed, modes[:] = _epoch_function(measure), []
    resumed(3, tf.constant(3))  # a fit resumed at epoch 3 measures it as the whole fit did
    assert modes == [False]


# --------------------------------------------------------------------------- saturation
def test_activation_saturation_is_the_share_of_binary_layer_inputs_beyond_one(tmp_path):
    x, y = data(32)
    model = compile_(tiny_model())
    probe = x[:20] * 3.0
    cb = la.analysis.ActivationSaturation(probe, record_dir=str(tmp_path), batch_size=8)
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[cb])
    names = ["qconv0", "qconv1"]
    acts = tf.keras.Model(model.input, [model.get_layer(n).input for n in names])(probe, training=False)
    acts = [a.numpy() for a in acts]
    assert hist.history["saturation"][0] == pytest.approx(la.analysis.saturation(acts), abs=1e-12)
    for n, a in zip(names, acts):
        assert hist.history[f"saturation/{n}"][0] == pytest.approx(np.mean(np.abs(a) > 1), abs=1e-12)
    assert 0 < hist.history["saturation"][0] < 1
    rec = la.analysis.load_records(str(tmp_path))["saturation"][0]
    assert rec["layer_names"] == names
    h = la.analysis.histogram(acts[0], bins=120, range=(-3, 3))
    # float32 rounding may move a value across a bin edge: compare loosely, totals exactly
    assert np.abs(rec["counts"][0] - h.counts).sum() <= 4
    assert (rec["below"][0], rec["above"][0]) == (h.below, h.above)
    assert rec["counts"][0].sum() + rec["below"][0] + rec["above"][0] == acts[0].size
    assert np.isclose(rec["edges"][40], -1) and np.isclose(rec["edges"][80], 1)


def test_activation_saturation_reaches_layers_of_nested_models():
    x, y = data(16)
    inner = tiny_model()
    inp = tf.keras.Input((8, 8, 3))
    outer = compile_(tf.keras.Model(inp, tf.keras.layers.Activation("linear")(inner(inp))))
    hist = outer.fit(x, y, batch_size=8, epochs=1, verbose=0,
                     callbacks=[la.analysis.ActivationSaturation(x[:8])])
    acts = tf.keras.Model(inner.input, [inner.get_layer(n).input for n in ("qconv0", "qconv1")])(x[:8])
    assert hist.history["saturation"][0] == pytest.approx(la.analysis.saturation([a.numpy() for a in acts]))


def test_activation_saturation_explains_subclassed_models():
    class Sub(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = lq.layers.QuantConv2D(4, 3, input_quantizer="approx_sign")
            self.pool = tf.keras.layers.GlobalAveragePooling2D()

        def call(self, x):
            return self.pool(self.conv(x))

    x, y = data(8)
    model = compile_(Sub())
    with pytest.raises(ValueError, match="functional"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[la.analysis.ActivationSaturation(x[:4])])


# --------------------------------------------------------------------------- weights
def test_weight_histograms_write_tensorboard_and_records_and_log_share_beyond_one(tmp_path):
    x, y = data(16)
    model = compile_(tiny_model())
    k0 = la.analysis.binary_kernels(model)[0]
    k0.assign(np.linspace(-3, 3, int(np.prod(k0.shape))).reshape(k0.shape))  # beyond +-1
    log_dir, rec_dir = tmp_path / "tb", tmp_path / "rec"
    cb = la.analysis.WeightHistograms(str(log_dir), record_dir=str(rec_dir), freq=2)
    final = []

    class Grab(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            final.append([k.numpy() for k in la.analysis.binary_kernels(self.model)])

    hist = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb, Grab()])
    for e in range(3):
        w = np.concatenate([k.ravel() for k in final[e]])
        assert hist.history["latent_abs_gt1"][e] == np.mean(np.abs(w) > 1)
    assert hist.history["latent_abs_gt1"][0] > 0.1
    events = [os.path.join(log_dir, f) for f in os.listdir(log_dir) if f.startswith("events.out")]
    tb = {}
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        for value in event.summary.value:
            tb[(value.tag, event.step)] = tf.make_ndarray(value.tensor)
    assert sorted(tb) == [(f"latent_weights/qconv{i}", e) for i in range(2) for e in (0, 2)]
    buckets = tb[("latent_weights/qconv0", 2)]  # rows (left, right, count), ordered
    assert buckets[:, 2].sum() == final[2][0].size
    assert np.all(np.diff(buckets[:, 0]) > 0) and buckets[0, 0] == pytest.approx(final[2][0].min())
    recs = la.analysis.load_records(str(rec_dir))["weights"]
    assert sorted(recs) == [0, 2]  # freq=2
    rec = recs[2]
    for i, k in enumerate(final[2]):
        h = la.analysis.histogram(k, bins=200, range=(-2, 2))
        np.testing.assert_array_equal(rec["counts"][i], h.counts)
        assert (rec["below"][i], rec["above"][i]) == (h.below, h.above)
    np.testing.assert_array_equal(rec["pooled_counts"], rec["counts"].sum(0))
    assert rec["pooled_below"] + rec["pooled_above"] + rec["pooled_counts"].sum() == rec["sizes"].sum()


# --------------------------------------------------------------------------- all together
def test_default_callbacks_log_every_design_key_in_history_and_csv(tmp_path):
    x, y = data(16)
    model = compile_(tiny_model())
    csv = tmp_path / "history.csv"
    cbs = la.analysis.default_callbacks(probe_images=x[:8], record_dir=str(tmp_path / "rec"),
                                        log_dir=str(tmp_path / "tb"))
    assert [type(c).__name__ for c in cbs] == ["FlipFlopRatio", "C2IRatio", "CAMStats",
                                               "ActivationSaturation", "WeightHistograms"]
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0,
                     callbacks=cbs + [tf.keras.callbacks.CSVLogger(str(csv))])
    keys = ["ff_ratio", "ff_ratio_run", "c2i_ratio", "cam_min", "sdam", "update_cam_mean", "saturation"]
    header = csv.read_text().splitlines()[0].split(",")
    for key in keys:
        assert len(hist.history[key]) == 2 and np.isfinite(hist.history[key]).all(), key
        assert key in header, key
    recs = la.analysis.load_records(str(tmp_path / "rec"))
    assert sorted(recs) == sorted(la.analysis.RECORD_KINDS)
    assert all(sorted(r) == [0, 1] for r in recs.values())


def test_analysis_values_reach_callbacks_placed_before_them(tmp_path):
    x, y = data(16)
    model = compile_(tiny_model())
    csv = tmp_path / "history.csv"
    seen = []
    early = tf.keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(sorted(logs)))
    stop = tf.keras.callbacks.Callback()
    stop.runs_before_analysis = True
    callbacks = [tf.keras.callbacks.CSVLogger(str(csv)), early, stop,
                 *la.analysis.default_callbacks()]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=callbacks)
    header = csv.read_text().splitlines()[0].split(",")
    assert {"ff_ratio", "c2i_ratio", "cam_min"} <= set(header) & set(seen[0])
    ordered = la.analysis.analysis_first(callbacks)
    assert ordered[0] is stop and [type(c).__name__ for c in ordered[1:4]] == [
        "FlipFlopRatio", "C2IRatio", "CAMStats"] and ordered[4:] == callbacks[:2]


def test_callbacks_round_trip_through_get_config():
    for cb in (la.analysis.FlipFlopRatio("r"), la.analysis.C2IRatio("ref.npz", record_dir="r"),
               la.analysis.CAMStats("r", layers=["a"], update=False),
               la.analysis.ActivationSaturation(np.zeros((2, 3)), bound=2.0),
               la.analysis.WeightHistograms("tb", freq=3)):
        config = cb.get_config()
        again = type(cb).from_config(json.loads(json.dumps(config)))
        assert again.get_config() == config
        name = tf.keras.utils.get_registered_name(type(cb))
        assert name.startswith("larq_adam>")
    with pytest.raises(TypeError, match="probe_images"):
        la.analysis.ActivationSaturation(tf.data.Dataset.range(3))


def test_records_round_trip_lists_and_reject_a_missing_dir(tmp_path):
    path = la.analysis.save_record(str(tmp_path), "cam", 12, dict(
        layer_names=["a", "b"], cam=[np.ones(3), np.zeros(5)], empty=[], x=np.arange(4)))
    assert os.path.basename(path) == "cam_epoch0012.npz"
    rec = la.analysis.load_records(str(tmp_path))["cam"][12]
    assert rec["epoch"] == 12 and rec["layer_names"] == ["a", "b"] and rec["empty"] == []
    assert [a.shape for a in rec["cam"]] == [(3,), (5,)]
    np.testing.assert_array_equal(rec["x"], np.arange(4))
    with pytest.raises(ValueError, match="not a directory"):
        la.analysis.load_records(str(tmp_path / "missing"))


def test_binary_layers_and_their_inputs_are_found_in_the_projects_reactnet_a():
    from larq_adam.analysis.callbacks import _binary_inputs

    shapes = {}
    for stage in ("ba", "bnn"):
        model = la.models.build_model("reactnet_a", stage=stage, input_shape=(32, 32, 3),
                                      num_classes=10, width=0.25)
        shapes[stage] = [tuple(k.shape) for k in la.analysis.binary_kernels(model)]
        tensors, layers = _binary_inputs(model)
        assert layers == la.analysis.binarizable_layers(model)
        assert [t.shape[-1] for t in tensors] == [s[-2] for s in shapes[stage]]
    assert shapes["ba"] == shapes["bnn"] and len(shapes["bnn"]) > 10
    assert all(len(s) == 4 for s in shapes["bnn"])


@pytest.mark.slow
def test_callbacks_in_a_fit_of_the_projects_reactnet_a(tmp_path):
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 10
    model = compile_(la.models.build_model("reactnet_a", stage="bnn", input_shape=(32, 32, 3),
                                           num_classes=10, width=0.25), lr=1e-3)
    snaps = Snapshots()
    cbs = la.analysis.default_callbacks(probe_images=x[:4], record_dir=str(tmp_path))
    hist = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False, callbacks=cbs + [snaps])
    n_total = sum(k.size for k in snaps.start)
    flips = snaps.flips_per_step()[0]
    assert hist.history["ff_ratio"][0] == sum(flips) / (n_total * 2)
    recs = la.analysis.load_records(str(tmp_path))
    assert sorted(recs) == sorted(la.analysis.RECORD_KINDS)
    assert len(recs["saturation"][0]["layer_names"]) == len(la.analysis.binarizable_layers(model))


# --------------------------------------------------------------------------- distribution
MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import larq_adam as la
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[1])
    from test_analysis_callbacks import Snapshots, compile_, data, tiny_model
    tf.keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = compile_(tiny_model())
    x, y = data(32)
    snaps = Snapshots()
    cbs = la.analysis.default_callbacks(probe_images=x[:8], record_dir=sys.argv[2])
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False, callbacks=cbs + [snaps])
    n_total = sum(k.size for k in snaps.start)
    print("RESULT", json.dumps(dict(
        replicas=strategy.num_replicas_in_sync,
        history={k: [float(v) for v in vs] for k, vs in hist.history.items()},
        flips=snaps.flips_per_step(), n_total=int(n_total))))
    """
)


def test_callbacks_in_fit_under_mirrored_strategy_on_two_cpu_devices(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(script), os.path.join(ROOT, "tests"), str(tmp_path / "rec")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-4000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["replicas"] == 2
    h, flips, n = result["history"], result["flips"], result["n_total"]
    assert sum(map(sum, flips)) > 0
    for e in range(2):
        assert h["ff_ratio"][e] == sum(flips[e]) / (n * len(flips[e]))
    assert h["ff_ratio_run"][1] == sum(map(sum, flips)) / (n * sum(map(len, flips)))
    for key in ("c2i_ratio", "cam_min", "sdam", "update_cam_mean", "saturation", "latent_abs_gt1"):
        assert np.isfinite(h[key]).all(), key
    assert sorted(la.analysis.load_records(str(tmp_path / "rec"))) == sorted(la.analysis.RECORD_KINDS)
