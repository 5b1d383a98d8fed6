"""The stored order of mnist5k and folder splits: a seeded permutation that interleaves
the classes, so that any prefix holds every class in equal shares."""
from typing import List, Sequence

import numpy as np



def balanced_order(labels: Sequence[int], seed: int = 0) -> np.ndarray:
    """A seeded permutation of ``range(len(labels))`` that interleaves the classes.

    Stratified: the ``j``-th of a class's ``n_c`` members (in a random order) gets the key
    ``(j + u) / n_c``, ``u ~ U(0, 1)``, and the examples are sorted by key. Every prefix
    then holds the classes in proportion to their sizes (equal classes: each run of
    ``num_classes`` examples has one of each), in an order that is otherwise random.
    """
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    keys = np.empty(len(labels), np.float64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        ranks = rng.permutation(len(members))
        keys[members] = (ranks + rng.uniform(size=len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def pick_balanced(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of up to ``n`` of ``labels``: round-robin over classes in a seeded order."""
    rng = np.random.RandomState(seed)
    classes = rng.permutation(np.unique(labels))
    members = {c: list(np.flatnonzero(labels == c)) for c in classes}
    keep: List[int] = []
    while len(keep) < n and any(members.values()):
        for c in classes:
            if members[c] and len(keep) < n:
                keep.append(members[c].pop(0))
    return np.asarray(keep, np.int64)
