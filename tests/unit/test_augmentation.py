"""Training data beyond MNIST's own: writing styles it lacks, and fresh distortions every batch."""

import numpy as np
import pytest

import train_mnist
from training import augmentation
from training.augmentation import AugmentedBatches, augment
from training.writing_styles import add_crossbar, add_flag, add_writing_styles


def test_writing_styles_add_crossed_sevens_and_flagged_ones():
    rng = np.random.default_rng(0)
    seven = np.zeros((28, 28), dtype=np.uint8)
    seven[5:7, 8:20] = 255  # the top bar
    for row in range(7, 24):  # the stem, slanting left as it goes down
        column = 19 - (row - 7) // 3
        seven[row, column - 1 : column + 1] = 255
    crossed = add_crossbar(seven, rng)
    middle_rows = crossed[11:18]
    assert (middle_rows > 128).sum() > (seven[11:18] > 128).sum() + 6
    assert np.array_equal(np.maximum(crossed, seven), crossed)  # Only ink is added.

    one = np.zeros((28, 28), dtype=np.uint8)
    one[4:24, 13:15] = 255
    flagged = add_flag(one, rng)
    assert (flagged[4:12, :12] > 64).any() and not (one[4:12, :12] > 64).any()

    labels = np.array([7, 1, 3] * 10, dtype=np.uint8)
    images = np.stack([seven, one, one] * 10)
    more_images, more_labels = add_writing_styles(images, labels, rng, share=0.5)
    assert len(more_images) == len(more_labels) == 30 + 5 + 5
    assert sorted(more_labels[30:].tolist()) == [1] * 5 + [7] * 5


def test_augmentation_keeps_shape_and_range_and_changes_images():
    images = np.zeros((8, 28, 28), dtype=np.float32)
    images[:, 6:22, 12:16] = 255
    augmented = augment(images, np.random.default_rng(0))
    assert augmented.shape == images.shape and augmented.dtype == np.float32
    assert augmented.min() >= 0 and augmented.max() <= 255.001
    assert not np.allclose(augmented, images)
    assert (augmented.sum(axis=(1, 2)) > 0).all()  # The digit is still in the picture.
    # Each image gets its own distortion.
    assert not np.allclose(augmented[0], augmented[1])
    # Without distortion the images pass unchanged (the identity resampling).
    np.testing.assert_allclose(augment(images, np.random.default_rng(0), 0.0), images, atol=1e-3)


@pytest.fixture
def without_the_usual_distortions(monkeypatch):
    """augment() with no rotation, shear, zoom, shift, elastic field or width change: only what
    a test adds."""
    monkeypatch.setattr(augmentation, "random_affine",
                        lambda batch_size, rng, strength: (np.eye(2, dtype=np.float32)[None].repeat(batch_size, 0),
                                                           np.zeros((batch_size, 2), np.float32)))
    monkeypatch.setattr(augmentation, "elastic_displacement", lambda batch_size, rng, strength: 0.0)
    monkeypatch.setattr(augmentation, "change_stroke_width", lambda images, rng, strength: images)


def test_augmentation_moves_ink_as_the_affine_says(without_the_usual_distortions, monkeypatch):
    """A pure shift of +2 columns (no rotation, shear, zoom, elastic or width change)."""
    images = np.zeros((1, 28, 28), dtype=np.float32)
    images[0, 10:18, 10:12] = 255
    identity, shift = np.eye(2, dtype=np.float32)[None], np.array([[-2.0, 0.0]], np.float32)
    monkeypatch.setattr(augmentation, "random_affine", lambda batch_size, rng, strength: (identity, shift))
    shifted = augment(images, np.random.default_rng(0))
    np.testing.assert_allclose(shifted[0, :, 12:14], images[0, :, 10:12], atol=1e-3)
    assert shifted[0, :, 10:12].max() < 1e-3


def test_training_batches_cover_every_image_once_an_epoch():
    images = np.arange(10 * 28 * 28, dtype=np.uint8).reshape(10, 28, 28) % 7
    labels = np.arange(10)
    batches = AugmentedBatches(images, labels, batch_size=4, seed=0, distortion=0.0)
    assert len(batches) == 3
    seen = np.concatenate([batches[index][1] for index in range(len(batches))])
    assert sorted(seen.tolist()) == list(range(10))
    assert batches[0][0].shape == (4, 28, 28, 1)
    first_order = seen.copy()
    batches.on_epoch_end()
    assert sorted(np.concatenate([batches[i][1] for i in range(3)]).tolist()) == list(range(10))
    assert not np.array_equal(np.concatenate([batches[i][1] for i in range(3)]), first_order)


def test_label_smoothing_trains_on_one_hot_labels_of_the_same_digits():
    images = np.zeros((10, 28, 28), dtype=np.uint8)
    labels = np.arange(10)
    plain = AugmentedBatches(images, labels, batch_size=4, seed=0, distortion=0.0)
    one_hot = AugmentedBatches(images, labels, batch_size=4, seed=0, distortion=0.0, one_hot=True)
    for index in range(len(plain)):
        digits, rows = plain[index][1], one_hot[index][1]
        assert rows.shape == (len(digits), 10) and rows.dtype == np.float32
        np.testing.assert_array_equal(rows.argmax(axis=1), digits)
        np.testing.assert_array_equal(rows.sum(axis=1), 1.0)
    arguments = train_mnist.parse_arguments(["--label-smoothing", "0.1"])
    assert arguments.label_smoothing == 0.1 and train_mnist.parse_arguments([]).label_smoothing == 0.0
