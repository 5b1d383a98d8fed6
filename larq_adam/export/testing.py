"""Trained-looking random weights, to check a conversion before any training."""
import numpy as np
import tensorflow as tf

__all__ = ["randomize_like_trained"]


def randomize_like_trained(model: tf.keras.Model, seed: int = 0) -> tf.keras.Model:
    """Give ``model`` random but sane weights and BN statistics, as after training, so a
    conversion can be checked (``verify``, ``op_report``) before any training: latent
    kernels ~ N(0, 1/fan_in) (binarized by Eq. 2 in the BNN stage), BN gamma in [0.5, 1.5],
    moving variance in [0.5, 2], moving mean ~ N(0, 0.3), PReLU slopes in [0.05, 0.4],
    shifts and biases ~ N(0, 0.1). Fresh models are a poor test: all-ones BN statistics
    hide fusion mistakes. In place; returns ``model``."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        name, shape = w.name, tuple(w.shape)
        if "moving_variance" in name:
            value = rng.uniform(0.5, 2.0, shape)
        elif "moving_mean" in name:
            value = rng.normal(0.0, 0.3, shape)
        elif "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "beta" in name:
            value = rng.normal(0.0, 0.2, shape)
        elif "alpha" in name:
            value = rng.uniform(0.05, 0.4, shape)
        elif "kernel" in name:
            value = rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[:-1])), shape)
        else:  # learnable shifts, biases
            value = rng.normal(0.0, 0.1, shape)
        w.assign(value.astype("float32"))
    return model
