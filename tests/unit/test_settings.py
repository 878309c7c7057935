"""Every setting in one place (web/settings.py): read from the environment when the app is made,
each default defined once, and the documentation's tables in step with it."""

import re
from pathlib import Path

import pytest

from app import create_app
from model.classifier import DigitClassifier
from model.pad import NUMBER_PAD_ASPECT, PEN_WIDTH_SHARE, SENT_SIZE
from web.settings import SETTINGS, SettingError, settings_from_environment

CONFIGURATION_PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_unset_and_empty_numbers_mean_the_default_and_values_take_the_settings_type():
    defaults = settings_from_environment({})
    assert defaults == {setting.key: setting.default for setting in SETTINGS}
    read = settings_from_environment({"DIGITPAD_MAX_JSON_DEPTH": "12", "DIGITPAD_TTA_BELOW": "0",
                                      "DIGITPAD_UNSURE_BELOW": " ", "DIGITPAD_RATE_LIMIT": "",
                                      "DATABASE_URL": "sqlite:///x.sqlite3"})
    assert read["MAX_JSON_DEPTH"] == 12 and read["TTA_BELOW"] == 0.0
    assert read["UNSURE_BELOW"] == defaults["UNSURE_BELOW"]
    assert read["RATE_LIMIT"] == ""  # An empty limit turns it off.
    assert read["SQLALCHEMY_DATABASE_URI"] == "sqlite:///x.sqlite3"


def test_a_value_of_the_wrong_type_stops_the_app_with_a_message_naming_it():
    with pytest.raises(SettingError, match="DIGITPAD_MAX_IMAGE_SIDE='big' is not a int"):
        settings_from_environment({"DIGITPAD_MAX_IMAGE_SIDE": "big"})


def test_the_environment_is_read_when_the_app_is_made(monkeypatch, classifier, tmp_path):
    monkeypatch.setenv("DIGITPAD_MAX_JSON_DEPTH", "3")
    app = create_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.sqlite3"})
    assert app.config["MAX_JSON_DEPTH"] == 3


def test_the_classifiers_defaults_are_the_settings_defaults():
    classifier, defaults = DigitClassifier(), settings_from_environment({})
    assert classifier.unsure_below == defaults["UNSURE_BELOW"] and classifier.tta_below == defaults["TTA_BELOW"]
    assert classifier.max_batch_size == defaults["BATCH_MAX_SIZE"]


def documented_rows():
    rows = {}
    for line in CONFIGURATION_PAGE.read_text().splitlines():
        match = re.match(r"\| `([A-Z_]+)` \| ([^|]*) \|", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_the_configuration_page_lists_every_setting_with_its_default():
    rows = documented_rows()
    for setting in SETTINGS:
        assert setting.environment in rows, f"{setting.environment} is not in docs/configuration.md"
        cell = rows[setting.environment].replace("`", "").replace(",", "")
        if isinstance(setting.default, (int, float)) and not isinstance(setting.default, bool):
            number = re.search(r"-?\d+(\.\d+)?", cell)
            assert number and float(number.group()) == setting.default, (setting.environment, cell)
        elif setting.default and setting.key != "MODEL_DIR":
            assert str(setting.default) in cell, (setting.environment, cell)


def test_the_page_gets_the_pads_constants_from_one_module(client):
    page = client.get("/").get_data(as_text=True)
    body = re.search(r"<body[^>]*>", page).group()
    assert f'data-sent-size="{SENT_SIZE}"' in body
    assert f'data-number-pad-aspect="{NUMBER_PAD_ASPECT}"' in body
    assert f'data-pen-width-share="{PEN_WIDTH_SHARE}"' in body
    static = Path(__file__).resolve().parents[2] / "static"
    for script in static.rglob("*.js"):
        assert not re.search(r"\b(112|1 / 14)\b", script.read_text()), f"{script} copies a pad constant"
