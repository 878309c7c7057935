"""The page sends the strokes it drew with the picture, in Digit and Number mode, drawn with the
mouse and with touch: as many strokes as were drawn, each point where the pointer went in the
sent image's pixels, times that never go back within a stroke; Undo takes a stroke away, a
correction of a drawn digit carries them, and an upload sends none."""

import pytest
from playwright.sync_api import expect

from harness.browser import (
    draw_with_mouse,
    draw_with_touch,
    expect_state,
    fake_correction,
    page_strokes,
    start_over,
)
from harness.number_pad import (
    DIGIT_CROP_MARGIN,
    NUMBER,
    NUMBER_TEXT,
    expect_number,
    image_of_data_url,
    start_number_over,
    write_with_mouse,
    write_with_touch,
)
from harness.strokes import render, strokes_named

pytestmark = pytest.mark.e2e

TWO_STROKE_FOUR = "4-closed"  # two strokes


def requests_to(page, path):
    """The POST requests the page sends to `path` from now on, in order."""
    sent = []
    page.on("request", lambda request: request.method == "POST" and request.url.endswith(path) and sent.append(request))
    return sent


def to_image(point, box, image):
    """A point in page pixels, in the pixels of the image sent (which covers the canvas)."""
    x, y = point
    return (x - box["x"]) * image.width / box["width"], (y - box["y"]) * image.height / box["height"]


def assert_strokes_sent(body, drawn, box, digits=None):
    """The strokes of a request body are those drawn (page pixels), in the sent image's pixels."""
    image = image_of_data_url(body["image"])
    strokes = body["strokes"]
    assert len(strokes) == len(drawn)
    for stroke, drawn_stroke in zip(strokes, drawn):
        assert all(len(point) == 3 for point in stroke)
        for x, y, _ in stroke:
            assert 0 <= x <= image.width and 0 <= y <= image.height, (x, y, image.size)
        # Where the pointer went down and where it lifted, to a pixel of the sent image.
        for sent, pointer in ((stroke[0], drawn_stroke[0]), (stroke[-1], drawn_stroke[-1])):
            expected = to_image(pointer, box, image)
            assert abs(sent[0] - expected[0]) <= 1 and abs(sent[1] - expected[1]) <= 1, (sent, expected)
        times = [t for _, _, t in stroke]
        assert times == sorted(times) and times[-1] > times[0], times
    # Times count from the drawing's first point, stroke after stroke.
    assert strokes[0][0][2] == 0
    assert [stroke[0][2] for stroke in strokes] == sorted(stroke[0][2] for stroke in strokes)


@pytest.mark.parametrize(("pad_fixture", "draw"), [("pad", draw_with_mouse), ("phone_pad", draw_with_touch)],
                         ids=["mouse", "touch"])
def test_a_digit_drawn_is_sent_with_its_strokes(pad_fixture, draw, request):
    page = request.getfixturevalue(pad_fixture)
    start_over(page)
    sent = requests_to(page, "/predict/")
    box = page.get_by_test_id("canvas").bounding_box()
    drawn = page_strokes(page, strokes_named(TWO_STROKE_FOUR))
    draw(page, strokes_named(TWO_STROKE_FOUR))
    expect_state(page, "done")
    assert_strokes_sent(sent[-1].post_data_json, drawn, box)
    # The server read them with both networks, and says so.
    assert sent[-1].response().json()["networks"] == ["image", "strokes"]
    # Live answers, sent while the pen moved, carried the strokes so far.
    assert all("strokes" in sent_request.post_data_json for sent_request in sent)


def test_undo_takes_a_strokes_points_away_and_the_correction_carries_the_rest(pad):
    start_over(pad)
    sent = requests_to(pad, "/predict/")
    draw_with_mouse(pad, strokes_named(TWO_STROKE_FOUR))
    expect_state(pad, "done")
    pad.get_by_test_id("undo").click()
    expect_state(pad, "done")
    after_undo = sent[-1].post_data_json
    assert len(after_undo["strokes"]) == 1
    corrections = requests_to(pad, "/api/corrections")
    pad.route("**/api/corrections", lambda route: fake_correction(route))
    try:
        pad.get_by_test_id("right").click()
        expect(pad.get_by_test_id("correction-status")).to_contain_text("Saved")
    finally:
        pad.unroute("**/api/corrections")
    correction = corrections[-1].post_data_json
    assert correction["image"] == after_undo["image"] and correction["strokes"] == after_undo["strokes"]


def test_an_upload_sends_no_strokes(pad, tmp_path):
    start_over(pad)
    draw_with_mouse(pad, strokes_named(TWO_STROKE_FOUR))
    expect_state(pad, "done")
    sent = requests_to(pad, "/predict/")
    image_path = tmp_path / "three.png"
    render(strokes_named("3-round")).save(image_path)
    pad.get_by_test_id("upload").set_input_files(image_path)
    expect_state(pad, "done")
    [upload] = sent
    # A form with the file alone (Chromium does not show its body), which the server read without
    # strokes: an answer read with strokes names the networks that read it.
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert "networks" not in upload.response().json()


@pytest.mark.parametrize("pointer", ["mouse", "touch"])
def test_a_number_is_sent_with_its_strokes_and_a_digits_correction_with_its_own(
    number_pad, phone_pad, live_server_url, pointer
):
    page = number_pad if pointer == "mouse" else phone_pad
    if pointer == "touch":
        page.goto(f"{live_server_url}/#number")
    start_number_over(page)
    sent = requests_to(page, "/predict/number")
    box = page.get_by_test_id("canvas").bounding_box()
    digits = (write_with_mouse if pointer == "mouse" else write_with_touch)(page, NUMBER)
    expect_number(page, NUMBER_TEXT)
    drawn = [stroke for strokes in digits for stroke in strokes]
    assert_strokes_sent(sent[-1].post_data_json, drawn, box)

    # The third digit (a 4 in two strokes): its own strokes, in the pixels of its crop.
    corrections = requests_to(page, "/api/corrections")
    page.route("**/api/corrections", lambda route: fake_correction(route))
    try:
        page.get_by_test_id("number").get_by_role("button").nth(2).click()
        page.get_by_test_id("right").click()
        expect(page.get_by_test_id("correction-status")).to_contain_text("Saved")
    finally:
        page.unroute("**/api/corrections")
    correction = corrections[-1].post_data_json
    crop = image_of_data_url(correction["image"])
    strokes = correction["strokes"]
    assert len(strokes) == len(digits[2]) == 2
    assert strokes[0][0][2] == 0
    for stroke in strokes:
        assert all(DIGIT_CROP_MARGIN - 1 <= x <= crop.width - DIGIT_CROP_MARGIN + 1
                   and DIGIT_CROP_MARGIN - 1 <= y <= crop.height - DIGIT_CROP_MARGIN + 1 for x, y, _ in stroke)
