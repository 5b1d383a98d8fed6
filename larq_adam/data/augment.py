"""The per-example transforms of the augmentation presets (Sec. 4.1: the ImageNet
augmentation the paper adopts from Martinez et al., 2020; CIFAR's pad-and-crop): decode,
random resized crop, PCA lighting, flips, the eval resize-and-centre-crop, normalisation.
Every random draw takes a stateless per-example seed."""
import math
from typing import Sequence, Tuple

import tensorflow as tf



CIFAR_PAD = 4


IMAGENET_RESIZE_RATIO = 256 / 224


IMAGENET_CROP_AREA = (0.08, 1.0)


IMAGENET_CROP_ASPECT = (3 / 4, 4 / 3)


IMAGENET_CROP_TRIES = 10  # torchvision's RandomResizedCrop


# AlexNet-style PCA colour noise ("Lighting"), as the reference's ImageNet training: RGB
# eigenvalues and eigenvectors (columns) of ImageNet's pixel covariance, alpha ~ N(0, 0.1).
LIGHTING_ALPHASTD = 0.1


IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)


IMAGENET_EIGVEC = ((-0.5675, 0.7192, 0.4009),
                   (-0.5808, -0.0045, -0.8140),
                   (-0.5836, -0.6948, 0.4203))


def make_transform(preset: str, train: bool, size: int, *, encoded: bool, resize: bool,
                    mean: Sequence[float], std: Sequence[float]):
    """The per-example map: (uint8 image or image bytes, label), seed -> augmented,
    normalised float32 (size, size, 3) and int32 label."""
    mean = tf.constant(mean, tf.float32)
    std = tf.constant(std, tf.float32)

    def transform(example, seed):
        image, label = example
        if preset == "imagenet" and train:
            image = imagenet_train(image, size, seed)
        else:
            image = to_float_rgb(decode_image(image) if encoded else image)
            if preset == "imagenet":
                image = imagenet_eval(image, size)
            else:
                image = resize_image(image, size) if resize else image
                if preset == "cifar" and train:
                    image = cifar_train(image, seed)
        image = (image - mean) / std
        return tf.ensure_shape(image, (size, size, 3)), tf.cast(label, tf.int32)

    return transform


def decode_image(contents: tf.Tensor) -> tf.Tensor:
    """PNG / JPEG bytes -> uint8 (H, W, 3)."""
    return tf.io.decode_image(contents, channels=3, expand_animations=False)


def to_float_rgb(image: tf.Tensor) -> tf.Tensor:
    """uint8 (or float in [0, 1]) (H, W, 1 or 3) -> float32 (H, W, 3) in [0, 1]."""
    image = tf.image.convert_image_dtype(image, tf.float32)
    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    return image


def resize_image(image: tf.Tensor, size: int) -> tf.Tensor:
    return tf.image.resize(image, (size, size), antialias=True)


def random_resized_crop_window(height_width: tf.Tensor, seed: tf.Tensor, *,
                               scale: Tuple[float, float] = IMAGENET_CROP_AREA,
                               ratio: Tuple[float, float] = IMAGENET_CROP_ASPECT,
                               tries: int = IMAGENET_CROP_TRIES) -> tf.Tensor:
    """``[top, left, height, width]`` (int32) of torchvision's ``RandomResizedCrop``.

    Up to ``tries`` draws of an area fraction ``U(scale)`` and a log-uniform aspect ratio
    ``w / h`` in ``ratio``, sides ``round(sqrt(area * ratio))`` / ``round(sqrt(area /
    ratio))``; the first that fits is placed uniformly at random. If none fits: the
    largest centred crop whose aspect ratio is clamped into ``ratio``. Stateless: the
    window is a function of the image size and ``seed``.
    """
    hw = tf.cast(height_width, tf.int32)
    h_img, w_img = hw[0], hw[1]
    area_seed, ratio_seed, top_seed, left_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 4))
    area = tf.cast(h_img * w_img, tf.float64) * tf.random.stateless_uniform(
        [tries], area_seed, scale[0], scale[1], tf.float64)
    aspect = tf.exp(tf.random.stateless_uniform(
        [tries], ratio_seed, math.log(ratio[0]), math.log(ratio[1]), tf.float64))
    ws = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    hs = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (ws > 0) & (ws <= w_img) & (hs > 0) & (hs <= h_img)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    h_fb, w_fb = _centre_fallback(h_img, w_img, ratio)
    found = tf.reduce_any(fits)
    h = tf.where(found, hs[first], h_fb)
    w = tf.where(found, ws[first], w_fb)
    top = tf.where(found, tf.random.stateless_uniform([], top_seed, 0, h_img - h + 1,
                                                      tf.int32), (h_img - h) // 2)
    left = tf.where(found, tf.random.stateless_uniform([], left_seed, 0, w_img - w + 1,
                                                       tf.int32), (w_img - w) // 2)
    return tf.stack([top, left, h, w])


def _centre_fallback(h_img: tf.Tensor, w_img: tf.Tensor, ratio: Tuple[float, float]
                     ) -> Tuple[tf.Tensor, tf.Tensor]:
    """torchvision's fallback crop size: the whole image, its aspect clamped into ratio."""
    h_f, w_f = tf.cast(h_img, tf.float64), tf.cast(w_img, tf.float64)
    in_ratio = w_f / h_f
    too_tall = in_ratio < min(ratio)
    too_wide = in_ratio > max(ratio)
    h = tf.where(too_tall, tf.cast(tf.round(w_f / min(ratio)), tf.int32), h_img)
    w = tf.where(too_wide, tf.cast(tf.round(h_f * max(ratio)), tf.int32), w_img)
    return h, w


def pca_lighting(image: tf.Tensor, alpha: tf.Tensor, *,
                 eigval: Sequence[float] = IMAGENET_EIGVAL,
                 eigvec: Sequence[Sequence[float]] = IMAGENET_EIGVEC,
                 as_uint8: bool = False) -> tf.Tensor:
    """AlexNet-style PCA colour noise: the shift ``eigvec @ (alpha * eigval)`` per channel.

    ``image`` is float RGB in [0, 1] (before normalisation), ``alpha`` the 3 draws of
    ``N(0, alphastd)`` for this image; the same shift is added to every pixel.

    ``as_uint8=False``: ``image + shift`` on [0, 1], no clipping (the continuous form).
    ``as_uint8=True``: the reference's arithmetic. Its ``Lighting`` runs on the 8-bit PIL
    image after the crop: ``uint8(clip(img + shift, 0, 255))`` with the shift in 0-255
    units (a few hundredths of a level) and the cast truncating. So a channel whose shift
    is negative drops by one level (except at 0) and a positive shift changes nothing;
    this reproduces that exactly on ``round(255 * image)``.
    """
    rgb = tf.linalg.matvec(tf.constant(eigvec, image.dtype),
                           tf.cast(alpha, image.dtype) * tf.constant(eigval, image.dtype))
    if not as_uint8:
        return image + rgb
    levels = tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0)
    return tf.floor(tf.clip_by_value(levels + rgb, 0.0, 255.0)) / 255.0


def imagenet_train(image: tf.Tensor, size: int, seed: tf.Tensor, *,
                   lighting_std: float = LIGHTING_ALPHASTD) -> tf.Tensor:
    """The reference's ImageNet training augmentation, stateless in ``seed``.

    :func:`random_resized_crop_window`, resize to ``size`` x ``size`` (bilinear,
    antialiased), :func:`pca_lighting` with ``alpha ~ N(0, lighting_std)`` in the
    reference's 8-bit arithmetic (``as_uint8=True``), random horizontal flip; float32 RGB
    in [0, 1] out. ``image``: a
    uint8 / float (H, W, 1 or 3) tensor, or a scalar string of PNG / JPEG bytes (a JPEG is
    decoded only inside the crop window).
    """
    crop_seed, light_seed, flip_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3))
    if image.dtype == tf.string:
        image = decode_crop(image, crop_seed)
    else:
        window = random_resized_crop_window(tf.shape(image)[:2], crop_seed)
        image = tf.slice(image, [window[0], window[1], 0], [window[2], window[3], -1])
    image = resize_image(to_float_rgb(image), size)
    alpha = tf.random.stateless_normal([3], light_seed, stddev=lighting_std)
    image = pca_lighting(image, alpha, as_uint8=True)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)


def decode_crop(contents: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The random-resized-crop window of encoded bytes, uint8 (h, w, 3). A JPEG is
    decoded only inside the window: the same pixels as a full decode, except that
    libjpeg's chroma upsampling may differ in the window's last column."""
    def jpeg():
        window = random_resized_crop_window(tf.image.extract_jpeg_shape(contents)[:2], seed)
        return tf.image.decode_and_crop_jpeg(contents, window, channels=3)

    def other():
        image = decode_image(contents)
        window = random_resized_crop_window(tf.shape(image)[:2], seed)
        return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], -1])

    return tf.cond(tf.io.is_jpeg(contents), jpeg, other)


def imagenet_eval_geometry(height, width, size: int) -> Tuple[tf.Tensor, ...]:
    """``(new_height, new_width, top, left)`` of the evaluation resize and centre crop.

    torchvision's ``Resize(r)`` then ``CenterCrop(size)`` with ``r = round(size * 256 /
    224)``: the shorter side becomes ``r``, the longer ``int(r * longer / shorter)``
    (truncated); the crop starts at ``round((new - size) / 2)`` (half to even).
    """
    h = tf.cast(height, tf.float64)
    w = tf.cast(width, tf.float64)
    resize_to = tf.constant(float(round(size * IMAGENET_RESIZE_RATIO)), tf.float64)
    short = tf.minimum(h, w)
    new_h = tf.where(h <= w, resize_to, tf.floor(resize_to * h / short))
    new_w = tf.where(h <= w, tf.floor(resize_to * w / short), resize_to)
    top = tf.round((new_h - size) / 2.0)
    left = tf.round((new_w - size) / 2.0)
    return tuple(tf.cast(v, tf.int32) for v in (new_h, new_w, top, left))


def imagenet_eval(image: tf.Tensor, size: int) -> tf.Tensor:
    """Resize the shorter side to ``round(size * 256 / 224)``, take the central square
    (:func:`imagenet_eval_geometry`); bilinear, antialiased."""
    shape = tf.shape(image)
    new_h, new_w, top, left = imagenet_eval_geometry(shape[0], shape[1], size)
    image = tf.image.resize(image, tf.stack([new_h, new_w]), antialias=True)
    return tf.image.crop_to_bounding_box(image, top, left, size, size)


def cifar_train(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Zero-pad 4 px, random crop back to the input size, random horizontal flip."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(image)
    padded = tf.pad(image, [[CIFAR_PAD, CIFAR_PAD], [CIFAR_PAD, CIFAR_PAD], [0, 0]])
    image = tf.image.stateless_random_crop(padded, shape, crop_seed)
    return tf.image.stateless_random_flip_left_right(image, flip_seed)
