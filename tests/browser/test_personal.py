"""Two people at two browsers: one person's correction changes that person's next answer and
nobody else's, and "Forget my handwriting" takes it back."""

import pytest
from playwright.sync_api import expect

from harness.browser import (
    DESKTOP,
    digit_button,
    draw_with_mouse,
    expect_corrections_offered,
    expect_prediction,
    expect_state,
    start_over,
)
from harness.strokes import strokes_named

pytestmark = pytest.mark.e2e

SEVEN = strokes_named("7-plain")


def draw_seven(page):
    start_over(page)
    draw_with_mouse(page, SEVEN)
    expect_state(page, "done")


def test_a_correction_counts_for_the_person_who_made_it_until_they_forget_it(browser, live_server_url):
    mine, theirs = (browser.new_context(viewport=DESKTOP) for _ in range(2))
    me, them = mine.new_page(), theirs.new_page()
    for page in (me, them):
        page.goto(live_server_url)
    assert mine.cookies()[0]["value"] != theirs.cookies()[0]["value"]  # Two anonymous writers.
    assert mine.cookies()[0]["httpOnly"] and mine.cookies()[0]["sameSite"] == "Lax"

    draw_seven(me)
    expect_prediction(me, "7")
    expect_corrections_offered(me)
    # This person writes their ones like this 7.
    with me.expect_response("**/api/corrections") as saved:
        digit_button(me, 1).click()
    assert saved.value.status == 201

    draw_seven(me)
    expect_prediction(me, "1")
    expect(me.get_by_test_id("status")).to_contain_text("Read with the help of your own corrections.")
    draw_seven(them)
    expect_prediction(them, "7")
    expect(them.get_by_test_id("status")).not_to_contain_text("your own corrections")

    with me.expect_response("**/api/writer") as forgotten:
        me.get_by_test_id("forget").click()
    assert forgotten.value.status == 200
    expect(me.get_by_test_id("forget-status")).to_have_text(
        "Forgotten: 1 correction of yours deleted. Answers no longer use your handwriting.")
    assert mine.cookies() == []
    draw_seven(me)
    expect_prediction(me, "7")
    mine.close()
    theirs.close()
