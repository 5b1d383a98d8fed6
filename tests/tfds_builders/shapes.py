"""Two tiny tfds image-classification builders that write their own images.

``larq_adam_tiny_shapes`` prepares 12 train and 6 test 8x8 RGB images of 3 classes
without a download; ``larq_adam_offline_shapes`` downloads from a local port nothing
listens on, as a catalogue dataset does on a machine without the network.
"""
import numpy as np
import tensorflow_datasets as tfds

CLASSES = ("circle", "square", "triangle")
UNREACHABLE_URL = "http://127.0.0.1:9/shapes.zip"  # the discard port: connection refused


def _features():
    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=(8, 8, 3)),
        "label": tfds.features.ClassLabel(names=list(CLASSES))})


def _examples(n: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(n):
        yield i, {"image": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8),
                  "label": i % len(CLASSES)}


class LarqAdamTinyShapes(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return self.dataset_info_from_configs(features=_features(),
                                              supervised_keys=("image", "label"))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(12, 0),
                "test": self._generate_examples(6, 1)}

    def _generate_examples(self, n, seed):
        yield from _examples(n, seed)


class LarqAdamOfflineShapes(LarqAdamTinyShapes):
    def _split_generators(self, dl_manager):
        dl_manager.download(UNREACHABLE_URL)
        return super()._split_generators(dl_manager)
