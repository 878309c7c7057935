"""The stroke network's input (pen_trajectory), how its reading is combined with the picture's,
and what the classifier answers with strokes, without them, and without a stroke network."""

import json
import shutil

import numpy as np
import pytest

from handwriting.render import encode, render
from model.classifier import DigitClassifier
from model.loader import DEFAULT_MODEL_DIR, ModelFilesError
from model.strokes import (
    CHANNELS,
    STROKE_METADATA_FILE,
    STROKE_NETWORK_FILE,
    STROKE_POINTS,
    StrokeNetwork,
    combined,
    pen_trajectory,
)

# A 4 in two strokes on a 112-pixel image, t in milliseconds: down and across, then the stem.
FOUR = [np.array([[40.0, 20, 0], [30, 60, 200], [75, 60, 400]]), np.array([[62.0, 25, 700], [62, 95, 1000]])]


def moved(strokes, scale, shift):
    return [np.column_stack([stroke[:, :2] * scale + shift, stroke[:, 2]]) for stroke in strokes]


def test_the_same_digit_anywhere_at_any_size_reads_the_same():
    trajectory = pen_trajectory(FOUR)
    assert trajectory.shape == (STROKE_POINTS, len(CHANNELS)) and trajectory.dtype == np.float32
    for scale, shift in ((2.5, (100, -40)), (0.3, (3, 7)), (1, (0, 0))):
        np.testing.assert_allclose(pen_trajectory(moved(FOUR, scale, shift)), trajectory, atol=1e-5)
    # Centred on the ink's box and divided by its larger side (the height: from the first point,
    # at the top, to the last, at the bottom).
    assert np.abs(trajectory[:, :2]).max() <= 0.5 + 1e-6
    np.testing.assert_allclose(trajectory[[0, -1], 1], [-0.5, 0.5], atol=1e-6)


def test_points_are_spaced_along_the_path_whatever_the_pen_s_speed():
    # The same straight stroke sampled 3 times or 50 times, slowly or fast.
    sparse = [np.array([[10.0, 10, 0], [10, 60, 10], [10, 110, 20]])]
    dense = [np.column_stack([np.full(50, 10.0), 10 + 100 * np.linspace(0, 1, 50) ** 2, np.arange(50) * 7.0])]
    np.testing.assert_allclose(pen_trajectory(sparse), pen_trajectory(dense), atol=1e-4)
    steps = np.diff(pen_trajectory(sparse)[:, 1])
    assert np.allclose(steps, steps[0])
    np.testing.assert_allclose(pen_trajectory(sparse)[:, 2:4], [[0, 1]] * STROKE_POINTS)  # downwards


def test_strokes_are_ordered_by_time_and_the_pen_in_the_air_is_marked():
    trajectory = pen_trajectory(FOUR)
    np.testing.assert_array_equal(pen_trajectory(FOUR[::-1]), trajectory)
    in_the_air = trajectory[:, 4]
    assert set(np.unique(in_the_air)) == {0.0, 1.0}
    # The pen is up once: one run of points between the two strokes.
    assert np.count_nonzero(np.diff(in_the_air)) == 2 and in_the_air[0] == in_the_air[-1] == 0
    assert not pen_trajectory(FOUR[:1])[:, 4].any()
    # Strokes with no times (x, y only) are taken in the order given.
    np.testing.assert_array_equal(pen_trajectory([stroke[:, :2] for stroke in FOUR]), trajectory)


@pytest.mark.parametrize("strokes", [
    [],
    [np.zeros((0, 3))],
    [np.array([[50.0, 50, 0]])],  # a dot
    [np.array([[50.0, 50, 0], [50, 50, 30], [50, 50, 60]])],  # points all in one place
    [np.array([[50.0, 50, 0]]), np.array([[50.0, 50, 90]])],  # two dots in one place
    [np.array([[np.nan, 50, 0], [np.inf, 1, 2]])],  # nothing finite
    [np.zeros(3)],  # not a list of points
])
def test_nothing_to_read_gives_zeros(strokes):
    np.testing.assert_array_equal(pen_trajectory(strokes), np.zeros((STROKE_POINTS, len(CHANNELS))))


@pytest.mark.parametrize("strokes", [
    [np.array([[10.0, 10, 0], [10, 10, 5], [10, 10, 9], [40, 10, 20], [40, 10, 25]])],  # standing still
    [np.array([[10.0, 10, 0]]), np.array([[40.0, 80, 300]])],  # two dots apart
    [np.array([[10.0, 10, 0], [20, 20, 5]]), np.zeros((0, 3)), np.array([[20.0, 20, 50]])],
    [np.array([[1e300, -1e300, 0], [0, 0, 5], [np.nan, 3, 7]])],  # absurd coordinates
    [np.array([[10.0, 10, 0], [10 + 1e-12, 10, 1]])],  # a stroke hardly any length
])
def test_degenerate_strokes_give_finite_trajectories(strokes):
    trajectory = pen_trajectory(strokes)
    assert trajectory.shape == (STROKE_POINTS, len(CHANNELS)) and np.isfinite(trajectory).all()
    assert np.abs(trajectory[:, :2]).max() <= 0.5 + 1e-6 and np.abs(trajectory[:, 2:]).max() <= 1 + 1e-6


def test_combined_weighs_the_two_readings_as_a_geometric_mean():
    image = np.array([[0.6, 0.4] + [0.0] * 8])
    strokes = np.array([[0.1, 0.9] + [0.0] * 8])
    np.testing.assert_allclose(combined(image, strokes, 0.0)[0, :2], [0.6, 0.4], atol=1e-5)
    np.testing.assert_allclose(combined(image, strokes, 1.0)[0, :2], [0.1, 0.9], atol=1e-5)
    half = combined(image, strokes, 0.5)[0]
    expected = np.sqrt([0.6 * 0.1, 0.4 * 0.9])
    np.testing.assert_allclose(half[:2], expected / expected.sum(), atol=1e-4)
    assert np.isfinite(half).all() and np.isclose(half.sum(), 1.0)


@pytest.fixture(scope="module")
def without_strokes():
    classifier = DigitClassifier(stroke_network_dir=None, reads_numbers=False)
    classifier.load()
    assert classifier.ready and not classifier.reads_strokes
    return classifier


def test_without_a_stroke_network_pictures_are_read_as_before(without_strokes, tmp_path):
    one = encode(render([[(0.5, 0.2), (0.5, 0.8)]]))
    strokes = [np.array([[56.0, 22, 0], [56, 90, 300]])]
    answer = without_strokes.classify(one)
    assert "networks" not in answer
    assert without_strokes.classify(one, strokes=strokes) == {**answer, "networks": ["image"]}
    digit = without_strokes.preprocess(one)[np.newaxis]
    np.testing.assert_array_equal(without_strokes.predict_with_strokes(digit, [strokes]), without_strokes.predict(digit))
    # A broken stroke network costs the strokes only.
    broken = DigitClassifier(stroke_network_dir=tmp_path, reads_numbers=False)
    (tmp_path / STROKE_METADATA_FILE).write_text("{not json")
    broken.load()
    assert broken.ready and not broken.reads_strokes and "stroke network" in broken.stroke_network_error


def test_a_stroke_network_other_than_its_metadata_describes_is_refused(tmp_path):
    if not (DEFAULT_MODEL_DIR / STROKE_NETWORK_FILE).is_file():
        pytest.skip("no stroke network committed")
    for name in (STROKE_NETWORK_FILE, STROKE_METADATA_FILE):
        shutil.copy(DEFAULT_MODEL_DIR / name, tmp_path / name)
    assert StrokeNetwork.from_directory(tmp_path).stroke_weight > 0
    metadata = json.loads((tmp_path / STROKE_METADATA_FILE).read_text())
    (tmp_path / STROKE_METADATA_FILE).write_text(json.dumps({**metadata, "sha256": "0" * 64}))
    with pytest.raises(ModelFilesError):
        StrokeNetwork.from_directory(tmp_path)


def test_without_strokes_the_answer_is_the_same_bytes_with_a_stroke_network_or_none(classifier, without_strokes):
    """The stroke network loaded changes nothing of an answer without strokes (no new key)."""
    assert classifier.reads_strokes, classifier.stroke_network_error
    for strokes in ([[(0.5, 0.2), (0.5, 0.8)]], [[(0.3, 0.3), (0.7, 0.3), (0.45, 0.8)]], []):
        png = encode(render(strokes))
        answer = classifier.classify(png)
        assert json.dumps(answer) == json.dumps(without_strokes.classify(png))
        digit_image = classifier.preprocess(png)
        expected = classifier.postprocess(digit_image, classifier.predict(digit_image[np.newaxis])[0]) \
            if digit_image is not None else classifier.postprocess(None, None)
        assert json.dumps(answer) == json.dumps(expected)
