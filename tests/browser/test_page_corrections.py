"""End-to-end tests of the page's correction buttons, its live answers and its phone layout.

The digits are drawn as in tests/browser/test_e2e.py, with its helpers. /predict/ is the real app unless
a test needs an answer it controls; /api/corrections is the real one where a test checks what the
server kept, and a page.route stand-in where it checks what the page sends or shows on a failure.
"""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from harness.browser import (
    CORRECTIONS,
    PREDICT,
    digit_button,
    draw_with_mouse,
    expect_corrections_disabled,
    expect_corrections_offered,
    expect_prediction,
    expect_state,
    fake_correction,
    image_of,
    pressed_buttons,
    sent_to_predict,
    wait_until,
)
from harness.strokes import render, strokes_named
from model.preprocessing import to_grayscale
from web.database import Correction, db

pytestmark = pytest.mark.e2e


def answer_correction(route):
    fake_correction(route)


def error_body(status, title, message):
    return json.dumps({"error": {"status": status, "title": title, "message": message}})


# ---------------------------------------------------------------------------------------------
# Corrections
# ---------------------------------------------------------------------------------------------


def test_correction_posts_the_answered_drawing_and_choosing_again_replaces_it(fresh_page, live_server):
    """Against the real server: the drawing the final answer was given for is kept, once."""
    page = fresh_page
    predicted = sent_to_predict(page)
    expect(page.get_by_test_id("corrections")).to_be_hidden()
    # Drawn small and off-centre so that no other test posts these very bytes.
    draw_with_mouse(page, strokes_named("3-round"), scale=0.7, offset=(0.08, -0.05))
    expect_state(page, "done")
    expect_prediction(page, "3")
    expect_corrections_offered(page)
    expect(page.get_by_test_id("corrections")).to_contain_text(
        "Correcting keeps your drawing to train the model, and this browser's next answers use"
    )
    assert pressed_buttons(page) == []
    final_image = image_of(predicted[-1])
    # The strokes it was drawn with go with it, as the final /predict/ request sent them.
    final_strokes = predicted[-1].post_data_json["strokes"]

    with page.expect_response(CORRECTIONS) as first:
        digit_button(page, 5).click()
    sent = first.value.request.post_data_json
    assert sent == {"image": final_image, "label": 5, "kind": "wrong", "strokes": final_strokes}
    assert first.value.status == 201
    stored = first.value.json()
    assert [stored[key] for key in ("label", "kind", "predicted", "stored")] == [
        5,
        "wrong",
        3,
        "new",
    ]
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 5.")
    assert pressed_buttons(page) == ["wrong-5"]

    with page.expect_response(CORRECTIONS) as second:
        digit_button(page, 8).click()
    assert second.value.request.post_data_json == {
        "image": final_image,
        "label": 8,
        "kind": "wrong",
        "strokes": final_strokes,
    }
    replaced = second.value.json()
    assert (replaced["id"], replaced["label"], replaced["stored"]) == (stored["id"], 8, "replaced")
    expect(page.get_by_test_id("correction-status")).to_have_text(
        "Saved: it was 8 (replaces your earlier choice)."
    )
    expect(page.locator("#announcer")).to_have_text(
        "Saved: it was 8 (replaces your earlier choice)."
    )
    assert pressed_buttons(page) == ["wrong-8"]

    with page.expect_response(CORRECTIONS) as third:
        page.get_by_test_id("right").click()
    assert third.value.request.post_data_json == {
        "image": final_image, "label": 3, "kind": "right", "strokes": final_strokes,
    }
    assert third.value.json()["stored"] == "replaced"
    expect(page.get_by_test_id("correction-status")).to_contain_text("Saved: 3 is right")
    assert pressed_buttons(page) == ["right"]

    # The row in the server's database: one, with the last choice and the server's own reading.
    _, app = live_server
    with app.app_context():
        row = db.session.get(Correction, stored["id"])
        assert (row.label, row.kind, row.predicted, row.updated_at is not None) == (3, "right", 3, True)
        # Not kept as sent: the drawing's pixels, encoded again as a grey PNG of the same size.
        sent = Image.open(io.BytesIO(base64.b64decode(final_image.split(",", 1)[1])))
        kept = Image.open(io.BytesIO(row.drawing))
        assert kept.mode == "L" and kept.size == sent.size
        assert np.array_equal(np.asarray(kept), np.asarray(to_grayscale(sent).convert("L")))
        assert db.session.scalar(
            select(func.count(Correction.id)).where(Correction.drawing_sha256 == row.drawing_sha256)
        ) == 1


def test_digit_keys_choose_the_correction(fresh_page):
    page = fresh_page
    corrections = []

    def answer(route):
        corrections.append(route.request.post_data_json)
        fake_correction(route)

    page.route(CORRECTIONS, answer)
    page.keyboard.press("4")  # No answer on show: nothing to correct.
    draw_with_mouse(page, strokes_named("7-plain"))
    expect_state(page, "done")
    expect_prediction(page, "7")

    page.keyboard.press("1")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 1.")
    assert pressed_buttons(page) == ["wrong-1"]
    # The digit the model named is a "right".
    page.keyboard.press("7")
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: 7 is right.")
    assert pressed_buttons(page) == ["right"]
    assert [(sent["label"], sent["kind"]) for sent in corrections] == [(1, "wrong"), (7, "right")]
    assert corrections[0]["image"] == corrections[1]["image"]

    # A digit typed into a text field is text.
    page.evaluate(
        """() => {
            const field = document.createElement("input");
            field.type = "text";
            field.id = "typing";
            document.body.append(field);
            field.focus();
        }"""
    )
    page.keyboard.press("2")
    expect(page.locator("#typing")).to_have_value("2")
    assert pressed_buttons(page) == ["right"]
    assert len(corrections) == 2


def test_only_the_last_of_quick_choices_is_kept(fresh_page):
    """Choices made while one is being saved go one at a time, the newest last."""
    page = fresh_page
    held = []
    page.route(CORRECTIONS, lambda route: held.append(route))
    draw_with_mouse(page, strokes_named("0-oval"))
    expect_state(page, "done")
    for digit in (6, 8, 9):
        digit_button(page, digit).click()
    expect(page.get_by_test_id("correction-status")).to_have_text("Saving…")
    assert pressed_buttons(page) == ["wrong-9"]
    assert len(held) == 1, "a second correction was sent before the first was answered"

    fake_correction(held[0])
    wait_until(page, lambda: len(held) == 2)
    assert [route.request.post_data_json["label"] for route in held] == [6, 9]
    fake_correction(held[1], stored="replaced")
    expect(page.get_by_test_id("correction-status")).to_have_text(
        "Saved: it was 9 (replaces your earlier choice)."
    )


@pytest.mark.parametrize(
    ("fail", "shown"),
    [
        (
            lambda route: route.fulfill(
                status=503,
                content_type="application/json",
                body=error_body(503, "Service Unavailable", "The corrections database is down."),
            ),
            "The corrections database is down.",
        ),
        (
            lambda route: route.fulfill(
                status=429,
                content_type="application/json",
                body=error_body(429, "Too Many Requests", "Too many corrections; wait a minute."),
            ),
            "Too many corrections; wait a minute.",
        ),
        (lambda route: route.abort("connectionrefused"), "Cannot reach the server"),
    ],
    ids=["503", "429", "unreachable"],
)
def test_correction_error_is_shown(fresh_page, fail, shown):
    page = fresh_page
    page.route(CORRECTIONS, fail)
    draw_with_mouse(page, strokes_named("1-plain"))
    expect_state(page, "done")
    digit_button(page, 7).click()
    status = page.get_by_test_id("correction-status")
    expect(status).to_contain_text(shown)
    expect(status).to_have_attribute("data-tone", "error")
    expect(page.locator("#announcer")).to_contain_text(shown)
    # Nothing was kept, so nothing is shown as chosen, and the buttons still work.
    assert pressed_buttons(page) == []
    expect_corrections_offered(page)

    page.unroute(CORRECTIONS)
    page.route(CORRECTIONS, answer_correction)
    digit_button(page, 7).click()
    expect(status).to_have_text("Saved: it was 7.")
    assert pressed_buttons(page) == ["wrong-7"]


def test_corrections_only_for_a_final_answer(fresh_page, tmp_path):
    page = fresh_page
    corrections = page.get_by_test_id("corrections")
    posted = []

    def answer(route):
        posted.append(route.request.post_data_json)
        fake_correction(route)

    page.route(CORRECTIONS, answer)
    expect(corrections).to_be_hidden()

    draw_with_mouse(page, strokes_named("4-closed"))
    expect_state(page, "done")
    digit_button(page, 9).click()
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: it was 9.")

    # A new stroke starts a new drawing: nothing chosen, nothing to choose until it is answered.
    box = page.get_by_test_id("canvas").bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 10)
    page.mouse.down()
    expect_state(page, "drawing")
    expect_corrections_disabled(page)
    assert pressed_buttons(page) == []
    expect(page.get_by_test_id("correction-status")).to_have_text("")
    page.keyboard.press("3")
    page.mouse.up()
    expect_state(page, "done")
    expect_corrections_offered(page)
    assert pressed_buttons(page) == []
    assert [sent["label"] for sent in posted] == [9], "a key pressed while drawing was sent"

    page.get_by_test_id("undo").click()
    expect_state(page, "done")
    expect_corrections_offered(page)
    page.get_by_test_id("clear").click()
    expect_state(page, "idle")
    expect(corrections).to_be_hidden()

    blank = tmp_path / "blank.png"
    render([]).save(blank)
    page.get_by_test_id("upload").set_input_files(blank)
    expect_state(page, "done")
    expect(corrections).to_be_hidden()
    expect_corrections_disabled(page)

    page.route(
        PREDICT,
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body=error_body(503, "Service Unavailable", "The model is loading."),
        ),
    )
    draw_with_mouse(page, strokes_named("1-plain"))
    expect_state(page, "error")
    expect(corrections).to_be_hidden()


def test_uploaded_image_is_corrected_with_its_own_bytes(fresh_page, tmp_path):
    """Against the real server: the upload is posted again as it was, with label and kind."""
    page = fresh_page
    image_path = tmp_path / "two.png"
    render(strokes_named("2-looped"), 140).convert("RGB").save(image_path)
    page.get_by_test_id("upload").set_input_files(image_path)
    expect_state(page, "done")
    expect_prediction(page, "2")
    expect_corrections_offered(page)

    # Chromium leaves a file's bytes out of the request Playwright sees, so the form is read
    # where the page hands it to fetch().
    page.evaluate(
        """() => {
            window.correctionForms = [];
            const realFetch = window.fetch;
            window.fetch = async function (resource, options = {}) {
                if (String(resource).endsWith("/api/corrections")
                    && options.body instanceof FormData) {
                    const fields = [];
                    for (const [name, value] of options.body.entries()) {
                        fields.push([name, value instanceof File
                            ? Array.from(new Uint8Array(await value.arrayBuffer()))
                            : value]);
                    }
                    window.correctionForms.push(fields);
                }
                return realFetch.call(this, resource, options);
            };
        }"""
    )
    with page.expect_response(CORRECTIONS) as posted:
        page.keyboard.press("2")
    request = posted.value.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    [fields] = page.evaluate("window.correctionForms")
    assert [name for name, _ in fields] == ["file", "label", "kind"]
    assert bytes(fields[0][1]) == image_path.read_bytes()
    assert fields[1:] == [["label", "2"], ["kind", "right"]]
    assert posted.value.status == 201
    assert posted.value.json()["predicted"] == 2
    expect(page.get_by_test_id("correction-status")).to_have_text("Saved: 2 is right.")


# ---------------------------------------------------------------------------------------------
# Live answers
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------------------------


