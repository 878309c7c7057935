"""Pages for the browser tests: one desktop page a module, a new one a test, a phone."""

import pytest

from harness.browser import DESKTOP, PHONE


@pytest.fixture(scope="module")
def phone_pad(browser, live_server_url):
    """One page on a phone-sized touch screen with a high-DPI display."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(live_server_url)
    yield page
    context.close()


@pytest.fixture
def fresh_page(page, live_server_url):
    page.set_viewport_size(DESKTOP)
    page.goto(live_server_url)
    return page


@pytest.fixture(scope="module")
def pad(browser, live_server_url):
    """One desktop page shared by a module's tests that clear it before drawing."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(live_server_url)
    yield page
    context.close()


@pytest.fixture(scope="module")
def number_pad(browser, live_server_url):
    """One desktop page in Number mode, shared by the module's tests that clear it first."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{live_server_url}/#number")
    yield page
    context.close()


@pytest.fixture
def fresh_number_page(page, live_server_url):
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server_url}/#number")
    return page
