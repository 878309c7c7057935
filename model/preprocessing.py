"""Bring a drawing or a photo of a digit to the form MNIST's digits have.

MNIST's digits were made like this: the ink's bounding box scaled so that its longer side is
20 pixels (keeping the aspect ratio, anti-aliased), placed in a 28x28 field with the centre of
mass in the centre, white ink on black. Doing the same to a browser drawing, instead of shrinking
the whole canvas, is what makes small, large, off-centre and thin or thick digits look alike to
the network. Everything here is pure: bytes or arrays in, arrays out, no Flask, no Keras.
"""

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

MNIST_SIZE = 28
MNIST_BOX = 20
ACCEPTED_FORMATS = ("PNG", "JPEG")
ORIENTATION_TAG = 0x0112  # EXIF

# The cropped ink is brought to this box first; stroke width is measured and corrected there,
# so the cost does not grow with the size of the upload.
WORKING_BOX = 4 * MNIST_BOX
WORKING_SCALE = WORKING_BOX / MNIST_BOX
# Stroke widths (2 * area / perimeter, in a 28x28 image) left alone: MNIST's digits lie between
# 2.1 and 4.5 pixels (5th to 95th percentile). Only pens outside this range are corrected, to
# its nearest edge, since eroding a thick stroke also closes small loops for good.
STROKE_WIDTH_RANGE = (2.4, 4.8)
LARGEST_WIDTH_FILTER = 15

# Levels on the 0..255 ink scale after the background has been removed and contrast stretched.
INK_LEVEL = 64  # a pixel at least this dark counts as ink for the bounding box
NOISE_LEVEL = 24  # fainter pixels are paper texture, JPEG noise or scanner dust
MINIMUM_CONTRAST = 40  # less difference than this between ink and paper is "no digit"
MINIMUM_INK_PIXELS = 4
# The largest image decoded: its side and its pixels in all (DIGITPAD_MAX_IMAGE_SIDE, _PIXELS).
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_PIXELS = 4_000_000


class ImageRejected(ValueError):
    """The bytes are not an image this service accepts; the message says why, for people."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def decode_image(data, max_side=MAX_IMAGE_SIDE, max_pixels=MAX_IMAGE_PIXELS):
    """Decode PNG or JPEG bytes into a Pillow image, checking its size before the pixels load."""
    try:
        with warnings.catch_warnings():
            # Our own limits come first; Pillow's bomb warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageRejected(
            f"The image is far too large ({error}). The limit is {max_side} pixels a side and "
            f"{max_pixels:,} pixels in all.",
            status=413,
        ) from error
    except Exception as error:
        raise ImageRejected(
            "The data is not an image that can be read (expected a PNG or JPEG file)."
        ) from error
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(
            f"{image.format} images are not accepted; send a PNG or JPEG.", status=415
        )
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRejected("The image has no pixels.")
    if width > max_side or height > max_side or width * height > max_pixels:
        raise ImageRejected(
            f"The image is {width}x{height} pixels; the limit is {max_side} pixels a side and "
            f"{max_pixels:,} pixels in all. Scale it down and try again.",
            status=413,
        )
    try:
        # Animated PNGs show their first frame, as a browser without animation would: open()
        # leaves an image on it (seeking there again would read the file's chunks twice).
        image.load()
    except Exception as error:
        raise ImageRejected(
            "The image is damaged or truncated and cannot be decoded."
        ) from error
    return image


def to_grayscale(image):
    """Upright grayscale ("L") image, transparency composited onto white paper."""
    # Only photos carry an orientation; looking it up is cheap, turning is not.
    if image.getexif().get(ORIENTATION_TAG, 1) != 1:
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # Pillow's conversion of 16-bit images to "L" clips instead of scaling.
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if pixels.max() > 255 else 255.0
        return Image.fromarray((pixels * (255.0 / top)).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        if image.mode != "RGBA":
            image = image.convert("RGBA")
        # A canvas filled with white has an alpha channel that is opaque everywhere.
        if image.getchannel("A").getextrema()[0] < 255:
            paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(paper, image)
    return image.convert("L")


def median_level(pixels):
    """The median of uint8 pixels (any shape), without a full sort."""
    flat = pixels.ravel()
    middle = flat.size // 2
    return int(np.partition(flat, middle)[middle])


def to_ink(gray):
    """White-on-black ink (uint8 array) with the paper at 0, from dark-on-light or light-on-dark.

    Polarity, paper level and contrast are read off the pixels; the pixels themselves are
    changed in one table look-up, which costs little even for a large upload.
    """
    pixels = np.asarray(gray)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    # The border is mostly paper: if it is dark, the ink is already light on dark.
    inverted = median_level(border) >= 128
    levels = np.arange(256)
    table = 255 - levels if inverted else levels
    # Most of a drawing is paper, so the median of a sparse sample is the paper's level.
    paper = int(table[median_level(pixels[::3, ::3])])
    strongest = int(table[pixels.max() if not inverted else pixels.min()])
    if strongest - paper < MINIMUM_CONTRAST:
        return np.zeros(pixels.shape, dtype=np.uint8)
    stretched = (table - paper) * (255.0 / (strongest - paper))
    stretched[stretched < NOISE_LEVEL] = 0
    return np.take(stretched.clip(0, 255).round().astype(np.uint8), pixels)


def stroke_width(ink):
    """Average stroke width in pixels: twice the ink area over the ink outline's length."""
    mask = ink >= 128
    interior = mask.copy()
    interior[1:, :] &= mask[:-1, :]
    interior[:-1, :] &= mask[1:, :]
    interior[:, 1:] &= mask[:, :-1]
    interior[:, :-1] &= mask[:, 1:]
    outline = np.count_nonzero(mask & ~interior)
    return 2.0 * np.count_nonzero(mask) / outline if outline else 0.0


def normalise_stroke_width(working):
    """Thin a very thick pen or thicken a very thin one (in the WORKING_BOX uint8 array)."""
    width = stroke_width(working) / WORKING_SCALE
    low, high = STROKE_WIDTH_RANGE
    if low <= width <= high or width == 0:
        return working
    change = (low - width if width < low else width - high) * WORKING_SCALE
    size = min(LARGEST_WIDTH_FILTER, 2 * int(round(change / 2)) + 1)
    if size < 3:
        return working
    # The minimum or maximum over a square around each pixel, edges repeated: exactly what
    # Pillow's MinFilter and MaxFilter give, in separate passes along rows and columns, 50
    # times faster for a 15-pixel square.
    extreme = ndimage.minimum_filter if width > high else ndimage.maximum_filter
    return extreme(working, size=size, mode="nearest")


def crop_to_ink(ink):
    """The ink's bounding box cut out of a uint8 array, or None when there is (almost) no ink."""
    mask = ink >= INK_LEVEL
    if np.count_nonzero(mask) < MINIMUM_INK_PIXELS:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def fit_longer_side(image, side, resampling):
    scale = side / max(image.size)
    size = tuple(max(1, round(length * scale)) for length in image.size)
    # reducing_gap: shrink by whole factors with a box filter first, then resample; several
    # times faster on a large canvas and indistinguishable at this size.
    return image.resize(size, resampling, reducing_gap=3.0)


def to_mnist(ink):
    """28x28 uint8 digit in MNIST's form from white-on-black ink (uint8 array), or None."""
    crop = crop_to_ink(ink)
    if crop is None:
        return None
    # Correct the stroke width at a fixed working size, then crop again: a thinner pen also
    # shortens the strokes' ends, and the box must fit the ink that is left.
    working = fit_longer_side(Image.fromarray(crop), WORKING_BOX, Image.Resampling.LANCZOS)
    working = crop_to_ink(normalise_stroke_width(np.asarray(working)))
    if working is None:
        return None
    return centre_by_mass(np.asarray(fit_longer_side(Image.fromarray(working), MNIST_BOX, Image.Resampling.BOX)))


def centre_by_mass(digit):
    """The digit (uint8, at most MNIST_BOX a side) in a 28x28 field with its centre of mass at
    the centre, in whole pixels as MNIST did; None when it has no ink."""
    total = digit.sum(dtype=np.float64)
    if total == 0:
        return None
    centre_row, centre_column = (
        digit.sum(axis=1 - axis, dtype=np.float64) @ np.arange(digit.shape[axis]) / total for axis in (0, 1)
    )
    top = int(round(MNIST_SIZE / 2 - 0.5 - centre_row))
    left = int(round(MNIST_SIZE / 2 - 0.5 - centre_column))
    # Pasted as Pillow's paste() would, what falls outside the field cut off; in NumPy, at half
    # the cost (a number reads each of its candidate digits through here).
    field = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.uint8)
    rows, columns = (
        slice(max(start, 0), min(start + length, MNIST_SIZE)) for start, length in zip((top, left), digit.shape)
    )
    field[rows, columns] = digit[rows.start - top : rows.stop - top, columns.start - left : columns.stop - left]
    return field


def turned_and_scaled(digit, degrees=0.0, scale=1.0):
    """The 28x28 uint8 digit turned `degrees` (positive: clockwise, its top to the right) and
    scaled by `scale` about the field's centre, resampled bilinearly."""
    angle = np.deg2rad(degrees)
    # affine_transform asks, for each pixel (row, column) of the result, where to sample the
    # digit: the inverse of the turn and the scale.
    inverse = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    centre = np.full(2, (MNIST_SIZE - 1) / 2)
    moved = ndimage.affine_transform(np.asarray(digit, dtype=np.float32), inverse,
                                     offset=centre - inverse @ centre, order=1)
    return moved.clip(0, 255).round().astype(np.uint8)


def ink_of(data, **limits):
    """Bytes of a PNG or JPEG drawing to its ink, white on black (uint8 array, paper at 0)."""
    return to_ink(to_grayscale(decode_image(data, **limits)))


def preprocess(data, **limits):
    """Bytes of a PNG or JPEG drawing to a 28x28 MNIST-form digit, or None when it has no ink."""
    return to_mnist(ink_of(data, **limits))


def preprocess_each(images, limits=None):
    """preprocess() of each image's bytes, for a batch, with the PNG of what the network will
    see: ("digit", digit, png), ("digit", None, None) without ink, or ("error", status, message)
    when the image was refused, so that a bad image spoils nothing else and every outcome can
    cross to another process."""
    results = []
    for data in images:
        try:
            digit = preprocess(data, **(limits or {}))
        except ImageRejected as error:
            results.append(("error", error.status, str(error)))
            continue
        results.append(("digit", digit, None if digit is None else to_png(digit)))
    return results


def naive_resize(data):
    """The original tutorial's preprocessing, kept to measure against: the whole image to 28x28."""
    gray = to_grayscale(decode_image(data))
    return np.asarray(ImageOps.invert(gray).resize((MNIST_SIZE, MNIST_SIZE), Image.Resampling.BILINEAR))


def to_model_input(digits):
    """Float32 batch (N, 28, 28, 1) in 0..255 from uint8 digits (N, 28, 28) or one (28, 28).

    The network scales pixels to 0..1 itself (its first layer), so training, evaluation and
    serving all feed it exactly this.
    """
    digits = np.asarray(digits, dtype=np.float32)
    if digits.ndim == 2:
        digits = digits[np.newaxis]
    return digits[..., np.newaxis]


def to_png(digit):
    """PNG bytes of a 28x28 digit, to show people what the network saw."""
    buffer = io.BytesIO()
    # zlib's level 3: faster than the default 6 and, for these little images, no larger.
    Image.fromarray(digit).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def decode_data_url(text):
    """Image bytes from a `data:image/png;base64,...` URL or from bare base64 text."""
    text = text.strip()
    payload = text
    if text[:5].lower() == "data:":
        header, comma, payload = text.partition(",")
        if not comma:
            raise ImageRejected("The data URL has no comma before its data.")
        media_type, *parameters = header[5:].split(";")
        if "base64" not in (parameter.strip().lower() for parameter in parameters):
            raise ImageRejected("The data URL must be base64-encoded (data:image/png;base64,...).")
        if media_type.strip().lower() not in ("image/png", "image/jpeg", "image/jpg", ""):
            raise ImageRejected(
                f"The data URL holds {media_type}; send image/png or image/jpeg.", status=415
            )
    try:
        data = base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ImageRejected("The image data is not valid base64.") from error
    if not data:
        raise ImageRejected("The image data is empty.")
    return data
