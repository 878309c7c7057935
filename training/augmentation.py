"""Augmentation: fresh distortions for every training batch, in NumPy.

NumPy rather than TensorFlow ops or Keras's Random* layers: it runs the same under every Keras
backend (a GPU machine may have only PyTorch or JAX), costs a few milliseconds a batch on the
CPU while the network trains, and one resampling does rotation, shear, zoom, shift and the
elastic field together (docs/design.md gives the measurements behind this choice).
"""

import keras
import numpy as np

IMAGE_SIZE = 28


MAX_ROTATION_DEGREES = 15


MAX_SHEAR = 0.3


ZOOM_RANGE = (0.8, 1.15)


MAX_SHIFT_PIXELS = 2.5


ELASTIC_SIGMA = 3.0


MAX_ELASTIC_PIXELS = 1.0




def neighbourhood(images, reduce):
    """`reduce` (np.maximum or np.minimum) over each pixel's 3x3 neighbourhood, zeros outside."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    rows = reduce(reduce(padded[:, :-2], padded[:, 1:-1]), padded[:, 2:])
    return reduce(reduce(rows[:, :, :-2], rows[:, :, 1:-1]), rows[:, :, 2:])


def change_stroke_width(images, rng, strength):
    """Thin or thicken each stroke by a random amount (a blend with an erosion or dilation)."""
    amount = rng.uniform(-0.6, 1.0, size=(len(images), 1, 1)).astype(np.float32) * strength
    target = np.where(amount > 0, neighbourhood(images, np.maximum), neighbourhood(images, np.minimum))
    return images + np.abs(amount) * (target - images)


def gaussian_matrix(size, sigma):
    """Multiplying by this matrix smooths along one axis (a Gaussian, zeros beyond the edge)."""
    radius = int(3 * sigma)
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-(offsets**2) / (2 * sigma**2)) * (np.abs(offsets) <= radius)
    return weights / np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2)).sum()


SMOOTHING = gaussian_matrix(IMAGE_SIZE, ELASTIC_SIGMA).astype(np.float32)


def elastic_displacement(batch_size, rng, strength):
    """Smooth random displacement fields (Simard et al., 2003), RMS size random per image."""
    noise = rng.standard_normal((batch_size, IMAGE_SIZE, IMAGE_SIZE, 2), dtype=np.float32)
    # Smoothed along the columns, then along the rows: SMOOTHING @ each field @ SMOOTHING.T.
    channels_first = noise.transpose(0, 3, 1, 2)
    field = (SMOOTHING @ channels_first @ SMOOTHING.T).transpose(0, 2, 3, 1)
    rms = np.sqrt((field**2).mean(axis=(1, 2, 3), keepdims=True))
    size = rng.uniform(0.0, MAX_ELASTIC_PIXELS * strength, size=(batch_size, 1, 1, 1))
    return field / rms * size.astype(np.float32)


def random_affine(batch_size, rng, strength):
    """Per-image 2x2 matrices and shifts mapping output offsets to input offsets."""
    uniform = lambda low, high: rng.uniform(low, high, size=batch_size)  # noqa: E731
    angle = uniform(-1, 1) * np.deg2rad(MAX_ROTATION_DEGREES) * strength
    shear = uniform(-1, 1) * MAX_SHEAR * strength
    zoom_x, zoom_y = (1 + (uniform(*ZOOM_RANGE) - 1) * strength for _ in "xy")
    cos, sin = np.cos(angle), np.sin(angle)
    # rotation @ shear @ inverse zoom, written out.
    matrix = np.stack(
        [cos / zoom_x, (cos * shear - sin) / zoom_y, sin / zoom_x, (sin * shear + cos) / zoom_y],
        axis=1,
    ).reshape(batch_size, 2, 2)
    shift = rng.uniform(-1, 1, size=(batch_size, 2)) * MAX_SHIFT_PIXELS * strength
    return matrix.astype(np.float32), shift.astype(np.float32)


def bilinear_sample(images, rows, columns):
    """Sample images (B, H, W) at real-valued positions (B, H, W); outside is black."""
    batch_size, size = len(images), IMAGE_SIZE + 2
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1))).reshape(batch_size, -1)
    rows = np.clip(rows + 1, 0, IMAGE_SIZE + 0.999)
    columns = np.clip(columns + 1, 0, IMAGE_SIZE + 0.999)
    top, left = np.floor(rows), np.floor(columns)
    row_weight, column_weight = rows - top, columns - left
    corner = (top.astype(np.int64) * size + left.astype(np.int64)).reshape(batch_size, -1)

    def pixel(step):
        return np.take_along_axis(padded, corner + step, axis=1).reshape(rows.shape)

    top_row = pixel(0) * (1 - column_weight) + pixel(1) * column_weight
    bottom_row = pixel(size) * (1 - column_weight) + pixel(size + 1) * column_weight
    return top_row * (1 - row_weight) + bottom_row * row_weight


# Each output pixel's offset from the field's centre, (H, W, xy): what every distortion moves.
CENTRE = (IMAGE_SIZE - 1) / 2


OFFSETS = np.stack(
    np.meshgrid(np.arange(IMAGE_SIZE, dtype=np.float32) - CENTRE, np.arange(IMAGE_SIZE, dtype=np.float32) - CENTRE),
    axis=-1,
)





def augment(images, rng, strength=1.0):
    """Distort a batch of float images (B, 28, 28) in 0..255 with one resampling."""
    batch_size = len(images)
    images = change_stroke_width(images, rng, strength)
    matrix, shift = random_affine(batch_size, rng, strength)
    source = OFFSETS @ matrix.transpose(0, 2, 1)[:, np.newaxis] + CENTRE + shift[:, None, None, :]
    source += elastic_displacement(batch_size, rng, strength)
    return bilinear_sample(images, source[..., 1], source[..., 0]).astype(np.float32)


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled training batches, freshly distorted every epoch, for any Keras backend."""

    def __init__(self, images, labels, batch_size, seed, distortion=1.0, one_hot=False):
        super().__init__()
        # One-hot labels for a loss that smooths them; the digits themselves otherwise.
        self.images, self.labels = images, np.eye(10, dtype=np.float32)[labels] if one_hot else labels
        self.batch_size, self.distortion = batch_size, distortion
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(images))

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index):
        batch = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[batch].astype(np.float32)
        if self.distortion:
            images = augment(images, self.rng, self.distortion)
        return images[..., np.newaxis], self.labels[batch]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.images))
