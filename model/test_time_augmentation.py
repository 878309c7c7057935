"""Test-time augmentation of the images the network is unsure of.

Where the network's best digit for an image is under `below` sure, the image is read again
turned and scaled a little (VARIANTS) and the five readings are averaged. The network is
sensitive to a few degrees or a pixel; averaging over such variants reads other writers' digits
and MNIST better (docs/experiments), and since about one image in sixty is unsure, a lone image
still costs one call of the network.
"""

import numpy as np

from model.preprocessing import turned_and_scaled

# Below this confidence an image is read again as each variant, (degrees turned clockwise,
# scale), and the probabilities averaged. Chosen on the validation writers and MNIST's
# validation split together, as train_mnist.py chooses its epochs.
TTA_BELOW = 0.8
VARIANTS = ((-12.0, 1.0), (12.0, 1.0), (0.0, 0.9), (0.0, 1.1))


def with_test_time_augmentation(digits, probabilities, network, below):
    """The probabilities, where the best digit is under `below` averaged with `network`'s
    readings of the image's VARIANTS (all of them in one call of `network`, which takes uint8
    digits (N, 28, 28) and gives probabilities (N, 10))."""
    unsure = np.flatnonzero(probabilities.max(axis=1) < below)
    if not len(unsure):
        return probabilities
    variants = np.stack([
        turned_and_scaled(digits[index], degrees, scale)
        for index in unsure for degrees, scale in VARIANTS
    ])
    again = network(variants).reshape(len(unsure), len(VARIANTS), -1)
    augmented = probabilities.copy()
    augmented[unsure] = (probabilities[unsure] + again.sum(axis=1)) / (1 + len(VARIANTS))
    return augmented


def describe(below):
    """What /api/model reports of it."""
    return {"below": below, "variants": [list(variant) for variant in VARIANTS]}
