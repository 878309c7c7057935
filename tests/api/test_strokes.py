"""The strokes a drawing was made with, sent beside its image (web/stroke_input.py): their form,
their limits and their errors, their absence, and how a correction keeps them."""

import base64
import io
import json

import numpy as np
import pytest
from flask_migrate import downgrade, upgrade
from PIL import Image
from sqlalchemy import func, inspect, select, text

from harness.answers import assert_error
from harness.strokes import encode, render, strokes_named
from model.pad import NUMBER_PAD_ASPECT, SENT_SIZE
from web.corrections_usage import KEPT_SIZE
from web.database import Correction, CorrectionsUsage, db
from web.settings import settings_from_environment
from web.stroke_input import kept_strokes, most_kept_strokes_bytes, strokes_from_json
from web.writers import new_token

SEVEN = "7-plain"


def data_url(png):
    return "data:image/png;base64," + base64.b64encode(png).decode()


def png_of(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixel_strokes(name, size=SENT_SIZE, step_ms=8.0):
    """A digit's strokes as the page sends them: in the pixels of a `size`-pixel image, t in ms
    since the first point, one point every `step_ms` and a pause between strokes."""
    strokes, t = [], 0.0
    for stroke in strokes_named(name):
        points = []
        for x, y in stroke:
            points.append([round(x * size, 2), round(y * size, 2), t])
            t += step_ms
        strokes.append(points)
        t += 150.0
    return strokes


@pytest.fixture(scope="module")
def seven():
    return data_url(encode(render(strokes_named(SEVEN))))


def predict(client, image, route="/predict/", **fields):
    return client.post(route, json={"image": image, **fields})


# --- Absence: an image alone reads as it always did -------------------------------------------


@pytest.mark.parametrize("route", ["/predict/", "/predict/number"])
def test_without_strokes_the_answer_is_byte_for_byte_what_it_was(client, seven, route):
    alone = predict(client, seven, route)
    assert alone.status_code == 200 and "networks" not in alone.get_json()
    for empty in (None, []):
        assert predict(client, seven, route, strokes=empty).data == alone.data
    png = base64.b64decode(seven.split(",", 1)[1])
    as_png = client.post(route, data=png, content_type="image/png")
    as_form = client.post(route, data={"file": (io.BytesIO(png), "seven.png")})
    as_text = client.post(route, data=seven, content_type="text/plain")
    assert as_png.data == as_form.data == as_text.data == alone.data


@pytest.mark.parametrize("route", ["/predict/", "/predict/number"])
def test_with_strokes_the_answer_names_the_networks_that_read_it(client, seven, route):
    answer = predict(client, seven, route, strokes=pixel_strokes(SEVEN)).get_json()
    # The committed stroke network is loaded: both networks read the drawing.
    assert answer["networks"] == ["image", "strokes"]
    number = answer if route == "/predict/" else answer["digits"][0]
    assert number["digit"] == 7


def test_a_writers_answer_with_strokes_names_the_networks_too(client, seven):
    client.set_cookie("digitpad_writer", new_token())
    answer = predict(client, seven, strokes=pixel_strokes(SEVEN)).get_json()
    assert answer["digit"] == 7 and answer["personal"] is False and answer["networks"] == ["image", "strokes"]


# --- Their form and their numbers ---------------------------------------------------------------

BAD_STROKES = [
    ("a stroke", ["must be a list of strokes", "[x, y, t]"]),
    ({"x": 1}, ["must be a list of strokes"]),
    ([[1, 2, 3]], ["point 1 of stroke 1", "exactly three numbers"]),
    ([[]], ["stroke 1", "at least one point"]),
    ([[[1, 2, 3]], "a stroke"], ["stroke 2", "at least one point"]),
    ([[[10, 20]]], ["point 1 of stroke 1", "exactly three numbers"]),
    ([[[10, 20, 0], [10, 20, 5, 1]]], ["point 2 of stroke 1", "exactly three numbers"]),
    ([[[10, "20", 0]]], ["exactly three numbers"]),
    ([[[True, 20, 0]]], ["exactly three numbers"]),
    ([[[10, None, 0]]], ["exactly three numbers"]),
    ([[[10, [20], 0]]], ["exactly three numbers"]),
    ([[[10, 20, -1]]], ["t = -1", "milliseconds"]),
    ([[[10, 20, 0], [11, 21, 600_001]]], ["point 2 of stroke 1", "t = 600001", "600,000"]),
    ([[[10, 20, 0], [11, 21, 30], [12, 22, 20]]], ["point 3 of stroke 1", "earlier", "never go back"]),
    ([[[10, 20, 0]], [[10, 20, 5], [10, 20, 4]]], ["point 2 of stroke 2", "never go back"]),
    ([[[10 ** 400, 20, 0]]], ["too large"]),
    ([[[1e300, 20, 0]]], ["too far outside", "112 x 112"]),
]


@pytest.mark.parametrize("strokes, words", BAD_STROKES)
def test_strokes_of_the_wrong_form_are_a_400_that_says_what_is_wrong(client, seven, strokes, words):
    assert_error(predict(client, seven, strokes=strokes), 400, *words)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_that_are_not_finite_are_a_400(client, seven, number):
    body = f'{{"image": "{seven}", "strokes": [[[10, 20, 0], [12, {number}, 8]]]}}'
    response = client.post("/predict/", data=body, content_type="application/json")
    assert_error(response, 400, "point 2 of stroke 1", "not finite")


def test_equal_times_and_strokes_out_of_time_order_are_accepted(client, seven):
    # Coalesced pointer events may share a time; strokes are ordered by the models, by their first time.
    strokes = [[[60, 20, 100], [60, 60, 100], [58, 94, 120]], [[30, 20, 0], [90, 20, 40]]]
    assert predict(client, seven, strokes=strokes).status_code == 200


# --- Their limits -----------------------------------------------------------------------------


def test_points_may_lie_outside_the_image_by_half_its_size_and_no_further(client, seven):
    reach = 0.5 * SENT_SIZE
    corners = [[[-reach, -reach, 0], [SENT_SIZE + reach, SENT_SIZE + reach, 10]]]
    assert predict(client, seven, strokes=corners).status_code == 200
    beyond = [[[60, 20, 0]], [[60, 20, 10], [60.1, -reach - 0.1, 20]]]
    assert_error(predict(client, seven, strokes=beyond), 400, "point 2 of stroke 2", "(60.1, -56.1)",
                 "too far outside the 112 x 112 image", "0.5 of its width")


def test_points_are_checked_against_the_size_of_the_image_sent(client):
    number = Image.new("L", (SENT_SIZE * NUMBER_PAD_ASPECT, SENT_SIZE), 255)
    number.paste(Image.open(io.BytesIO(encode(render(strokes_named(SEVEN))))), (SENT_SIZE, 0))
    wide = data_url(png_of(number))
    far_right = [[[SENT_SIZE * NUMBER_PAD_ASPECT * 1.4, 50, 0]]]
    assert predict(client, wide, "/predict/number", strokes=far_right).status_code == 200
    assert_error(predict(client, wide, "/predict/number", strokes=[[[SENT_SIZE * 5, 50, 0]]]), 400,
                 "too far outside the 336 x 112 image")


def test_a_photo_turned_by_its_exif_is_measured_upright(client):
    # 60 wide and 200 high as stored, turned a quarter (orientation 6): 200 wide upright.
    photo = Image.new("RGB", (60, 200), "white")
    exif = photo.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif)
    image = data_url(buffer.getvalue()).replace("image/png", "image/jpeg")
    assert predict(client, image, strokes=[[[290, 10, 0]]]).status_code == 200
    assert_error(predict(client, image, strokes=[[[10, 290, 0]]]), 400, "200 x 60 image")


def test_the_most_strokes_and_points_pass_and_one_more_is_a_400(client, seven):
    config = client.application.config
    most_strokes, most_points = config["STROKES_MAX_STROKES"], config["STROKES_MAX_POINTS"]
    per_stroke = most_points // most_strokes
    at_the_limits = [[[10 + index % 90, 20 + stroke % 80, float(index)] for index in range(per_stroke)]
                     for stroke in range(most_strokes)]
    assert sum(map(len, at_the_limits)) == most_points
    assert predict(client, seven, strokes=at_the_limits).status_code == 200
    one_point_more = [*at_the_limits[:-1], at_the_limits[-1] + [[50, 50, 1e5]]]
    assert_error(predict(client, seven, strokes=one_point_more), 400,
                 f"{most_points + 1:,} points in all", f"the limit is {most_points:,}")
    one_stroke_more = [[[50, 50, 0]]] * (most_strokes + 1)
    assert_error(predict(client, seven, strokes=one_stroke_more), 400,
                 f"{most_strokes + 1:,} strokes", f"the limit is {most_strokes:,}")


def test_far_more_points_are_refused_before_the_json_is_parsed(client, seven):
    many = [[[50, 50, 0]] * 60_000]
    assert_error(predict(client, seven, strokes=many), 400, "values and brackets", "strokes")


def test_the_limits_are_settings(classifier, tmp_path, monkeypatch, seven):
    from harness.apps import migrated_app

    monkeypatch.setenv("DIGITPAD_STROKES_MAX_POINTS", "3")
    monkeypatch.setenv("DIGITPAD_STROKES_MAX_OUTSIDE", "0")
    app = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/s.sqlite3"})
    client = app.test_client()
    assert_error(predict(client, seven, strokes=[[[1, 1, 0]] * 4]), 400, "4 points", "the limit is 3")
    assert_error(predict(client, seven, strokes=[[[-1, 1, 0]]]), 400, "too far outside")
    assert predict(client, seven, strokes=[[[0, 112, 0]] * 3]).status_code == 200
    # The page reads them from its markup, and keeps to them.
    body = client.get("/").get_data(as_text=True)
    assert 'data-strokes-max-points="3"' in body and 'data-strokes-max-outside="0.0"' in body


def test_batches_take_no_strokes(client, seven):
    response = client.post("/predict/batch", json={"images": [seven], "strokes": pixel_strokes(SEVEN)})
    assert_error(response, 400, "unknown field", "strokes")


def test_the_python_form_is_a_float64_array_of_x_y_t_for_each_stroke():
    config = settings_from_environment({})
    strokes = strokes_from_json([[[1, 2, 0], [3.5, 4, 8]], [[5, 6, 20]]], config)
    assert [stroke.shape for stroke in strokes] == [(2, 3), (1, 3)]
    assert all(stroke.dtype == np.float64 for stroke in strokes)
    assert strokes[0].tolist() == [[1.0, 2.0, 0.0], [3.5, 4.0, 8.0]]
    assert strokes_from_json(None, config) is None and strokes_from_json([], config) is None


# --- Kept with a correction -------------------------------------------------------------------


def correct(client, image, strokes, label=7):
    return client.post("/api/corrections", json={"image": image, "label": label, "kind": "right", "strokes": strokes})


def test_a_correction_keeps_its_strokes_compact_in_the_pixels_of_the_drawing_kept(db_app, db_client):
    # Sent at twice the pad's size: the drawing is kept at 112 pixels, its strokes halved with it.
    big = data_url(encode(render(strokes_named(SEVEN), size=2 * SENT_SIZE)))
    strokes = pixel_strokes(SEVEN, size=2 * SENT_SIZE, step_ms=8.37)
    assert correct(db_client, big, strokes).status_code == 201
    with db_app.app_context():
        [row] = db.session.scalars(select(Correction)).all()
        counted = db.session.get(CorrectionsUsage, 1).stored_bytes
        actual = db.session.scalar(select(func.sum(KEPT_SIZE)))
    assert " " not in row.strokes
    kept = json.loads(row.strokes)
    assert [len(stroke) for stroke in kept] == [len(stroke) for stroke in strokes]
    for sent_stroke, kept_stroke in zip(strokes, kept):
        for (x, y, t), (kept_x, kept_y, kept_t) in zip(sent_stroke, kept_stroke):
            assert abs(kept_x - x / 2) <= 0.05 and abs(kept_y - y / 2) <= 0.05 and kept_t == round(t)
            assert isinstance(kept_t, int)
    # Counted in the bytes kept, as the running total counts a row.
    assert counted == actual == len(row.drawing) + len(row.model_input) + len(row.strokes)


def test_a_correction_without_strokes_keeps_none_and_a_form_takes_none(db_app, db_client, seven):
    png = base64.b64decode(seven.split(",", 1)[1])
    assert db_client.post("/api/corrections", json={"image": seven, "label": 7, "kind": "right"}).status_code == 201
    form = {"file": (io.BytesIO(png), "seven.png"), "label": "1", "kind": "wrong", "strokes": "[[[1, 2, 3]]]"}
    assert_error(db_client.post("/api/corrections", data=form), 400, "unknown form field", "strokes")
    with db_app.app_context():
        assert db.session.scalars(select(Correction.strokes)).all() == [None]


def test_bad_strokes_in_a_correction_are_a_400_and_nothing_is_kept(db_app, db_client, seven):
    assert_error(correct(db_client, seven, [[[10, 20, float("nan")]]]), 400, "not finite")
    assert_error(correct(db_client, seven, [[[500, 20, 0]]]), 400, "too far outside")
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Correction.id))) == 0


def test_the_export_holds_each_rows_strokes_and_forgetting_deletes_them(db_app, db_client, seven, tmp_path):
    db_client.set_cookie("digitpad_writer", new_token())
    four = data_url(encode(render(strokes_named("4-closed"))))
    assert correct(db_client, seven, pixel_strokes(SEVEN)).status_code == 201
    assert db_client.post("/api/corrections", json={"image": four, "label": 4, "kind": "right"}).status_code == 201
    out = tmp_path / "corrections.npz"
    assert db_app.test_cli_runner().invoke(args=["corrections", "export", "--out", str(out)]).exit_code == 0
    with np.load(out) as arrays:  # No pickles.
        ends = arrays["strokes_ends"]
        texts = [bytes(arrays["strokes_json"][start:end]).decode("ascii")
                 for start, end in zip([0, *ends[:-1]], ends)]
    assert len(json.loads(texts[0])) == len(pixel_strokes(SEVEN)) and texts[1] == ""
    assert db_client.delete("/api/writer").get_json() == {"forgotten": True, "corrections_deleted": 2}
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Correction.id))) == 0
        assert db.session.get(CorrectionsUsage, 1).stored_bytes == 0


def test_the_text_kept_is_bounded_by_the_limits():
    config = settings_from_environment({})
    reach, latest = config["STROKES_MAX_OUTSIDE"] * SENT_SIZE, config["STROKES_MAX_SECONDS"] * 1000
    per_stroke = config["STROKES_MAX_POINTS"] // config["STROKES_MAX_STROKES"]
    worst = [np.array([[-reach + 0.04, -reach - 0.04, latest - 0.4]] * per_stroke)] * config["STROKES_MAX_STROKES"]
    text_kept = kept_strokes(worst, 1.0, 1.0)
    assert len(text_kept) <= most_kept_strokes_bytes(config) < 120_000
    print(f"the longest strokes kept: {len(text_kept):,} bytes (bound {most_kept_strokes_bytes(config):,})")


def test_migration_0006_adds_the_strokes_and_takes_their_bytes_back_out(db_app, db_client, seven):
    assert correct(db_client, seven, pixel_strokes(SEVEN)).status_code == 201
    with db_app.app_context():
        strokes_bytes = len(db.session.scalar(select(Correction.strokes)))
        before = db.session.get(CorrectionsUsage, 1).stored_bytes
        db.session.remove()
        downgrade(revision="0005")
        assert "strokes" not in {column["name"] for column in inspect(db.engine).get_columns("corrections")}
        assert db.session.execute(text("SELECT stored_bytes FROM corrections_usage")).scalar() == before - strokes_bytes
        db.session.remove()
        upgrade()
        [(strokes, label)] = db.session.execute(select(Correction.strokes, Correction.label)).all()
        assert strokes is None and label == 7
        assert db.session.get(CorrectionsUsage, 1).stored_bytes == before - strokes_bytes
