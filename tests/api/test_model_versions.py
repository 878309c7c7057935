"""The model registry: `flask models add | promote | rollback | list | evaluate`, the gate, and
servers that follow a promotion without a restart."""

import json
import os
import time

import pytest
import requests

import train_mnist
from harness.apps import TEST_CLIENT_SALT, migrated_app
from harness.model_folders import copy_of_committed_model
from harness.servers import flask_command, procfile_server, run_release_phase
from harness.strokes import encode, render, strokes_named
from model.loader import DEFAULT_MODEL_DIR, read_metadata
from model.test_time_augmentation import TTA_BELOW
from web.database import ModelPromotion, db
from web.model_watcher import build_served_model

SEVEN_PNG = encode(render(strokes_named("7-crossed")))
COMMITTED_VERSION = read_metadata(DEFAULT_MODEL_DIR)["version"]


@pytest.fixture
def evaluation_data(mnist_path, pendigits_file, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", str(mnist_path))
    monkeypatch.setenv("PENDIGITS_PATH", str(pendigits_file))


@pytest.fixture
def registry(classifier, tmp_path, evaluation_data):
    """The app on a migrated SQLite database, and a function that runs `flask models ...`."""
    database = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    application = migrated_app({"CLASSIFIER": classifier, "SQLALCHEMY_DATABASE_URI": database})
    runner = application.test_cli_runner()

    def models(*arguments):
        return runner.invoke(args=["models", *map(str, arguments)])

    yield application, models
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def worse_model(tmp_path_factory, mnist_path, pendigits_file):
    """A network trained for one epoch on 300 images: it reads far fewer digits."""
    out = tmp_path_factory.mktemp("worse-model")
    train_mnist.main([
        "--data", str(mnist_path), "--pendigits", str(pendigits_file), "--limit", "300", "--epochs", "1",
        "--pen-drawings", "1", "--out", str(out), "--verbose", "0", "--seed", "7",
    ])
    return out


@pytest.mark.slow  # Measures every evaluation set (and trains a worse network).
def test_add_checks_the_files_their_hashes_and_the_recorded_accuracy(registry, tmp_path):
    _, models = registry
    added = models("add", copy_of_committed_model(tmp_path / "same", "same-network"))
    assert added.exit_code == 0, added.output
    assert "Added same-network: mnist test 99.48% (10,000), validation writers" in added.output

    again = models("add", copy_of_committed_model(tmp_path / "same-again", "same-network"))
    assert again.exit_code != 0 and "in the registry already" in again.output

    damaged = copy_of_committed_model(tmp_path / "damaged", "damaged")
    with open(damaged / "model.tflite", "ab") as tflite:
        tflite.write(b"\0")
    refused = models("add", damaged)
    assert refused.exit_code != 0 and "do not match their hash" in refused.output

    misreported = copy_of_committed_model(tmp_path / "misreported", "misreported")
    metadata = json.loads((misreported / "metadata.json").read_text())
    metadata["evaluation"]["mnist_test"]["accuracy"] = 0.999
    (misreported / "metadata.json").write_text(json.dumps(metadata))
    refused = models("add", misreported)
    assert refused.exit_code != 0 and "not the model that was measured" in refused.output

    listed = models("list").output
    assert "same-network" in listed and "damaged" not in listed and "misreported" not in listed


@pytest.mark.slow  # Measures every evaluation set (and trains a worse network).
def test_the_gate_refuses_a_worse_model_force_promotes_it_and_rollback_restores(registry, worse_model, tmp_path):
    application, models = registry
    assert models("add", worse_model).exit_code == 0
    worse_version = read_metadata(worse_model)["version"]

    refused = models("promote", worse_version)
    assert refused.exit_code != 0
    assert "reads worse than the served" in refused.output and "mnist test" in refused.output
    assert "Nothing changed" in refused.output
    with application.app_context():
        # The committed model became the first version; it is still the one served.
        versions = [row.version for row in db.session.query(ModelPromotion).order_by(ModelPromotion.id)]
    assert versions == [COMMITTED_VERSION]

    forced = models("promote", worse_version, "--force")
    assert forced.exit_code == 0, forced.output
    assert f"* {worse_version}" in models("list").output

    back = models("rollback")
    assert back.exit_code == 0 and f"Rolled back to {COMMITTED_VERSION}" in back.output
    assert f"* {COMMITTED_VERSION}" in models("list").output
    assert "Nothing to roll back to" in models("rollback").output

    # A copy of the served network passes the gate (equal on every set).
    assert models("add", copy_of_committed_model(tmp_path / "equal", "equal-network")).exit_code == 0
    assert models("promote", "equal-network").exit_code == 0
    assert models("evaluate", "equal-network").exit_code == 0


@pytest.mark.slow
def test_two_servers_follow_a_promotion_and_a_rollback_without_a_restart(tmp_path, evaluation_data):
    """Bounded: two servers of two workers each on one SQLite file, a few hundred requests."""
    environment = {"DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "WEB_CONCURRENCY": "2"}
    run_release_phase({**os.environ, **environment})
    candidate = copy_of_committed_model(tmp_path / "candidate", "candidate-network")

    def flask_models(*arguments):
        flask_command(environment, "models", *arguments)

    def versions_answered(urls, seconds):
        """The model_version of every answer, each server in turn, for a few seconds."""
        answers, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            for url in urls:
                response = requests.post(f"{url}/predict/", data=SEVEN_PNG, headers={"Content-Type": "image/png"},
                                         timeout=10)
                assert response.status_code == 200
                answers.append((time.monotonic(), response.json()["model_version"]))
        return answers

    flask_models("add", candidate)
    with procfile_server(environment) as (first, _), procfile_server(environment) as (second, _):
        assert {version for _, version in versions_answered([first, second], 1)} == {COMMITTED_VERSION}
        for version, action in (("candidate-network", ("promote", "candidate-network")),
                                (COMMITTED_VERSION, ("rollback",))):
            flask_models(*action)
            switched = time.monotonic()
            answers = versions_answered([first, second], 6)
            late = [at - switched for at, answered in answers if answered != version]
            assert not late or max(late) < 5, f"an old version answered {max(late):.1f} s after the switch"
            assert answers[-1][1] == version
            assert requests.get(f"{second}/api/models", timeout=5).json()["served"] == version
        metrics = requests.get(f"{first}/metrics", timeout=5).text
    assert 'digitpad_served_model{pid=' in metrics and f'version="{COMMITTED_VERSION}"}} 1.0' in metrics


@pytest.mark.slow
@pytest.mark.e2e
def test_the_whole_loop_a_correction_trains_a_version_the_page_is_then_answered_by(
    browser, postgres, tmp_path, evaluation_data, mnist_path, pendigits_file
):
    """On PostgreSQL, as the Procfile serves: a person draws, says the answer was wrong, the
    corrections are exported and trained on (briefly), the new version is added and promoted,
    and the page's next answer names it."""
    from playwright.sync_api import expect

    from harness.browser import (
        DESKTOP,
        digit_button,
        draw_with_mouse,
        expect_corrections_offered,
        expect_state,
        start_over,
    )

    environment = {"DATABASE_URL": postgres.create_database("loop"), "DIGITPAD_RATE_LIMIT": "",
                   "DIGITPAD_CLIENT_SALT": TEST_CLIENT_SALT}
    run_release_phase({**os.environ, **environment})

    def flask(*arguments):
        return flask_command(environment, *arguments)[0]

    def answer_to_a_drawing(page):
        """The final answer to the drawing (live answers come before it while the pen moves)."""
        start_over(page)
        answers = []

        def keep(response):
            if response.url.endswith("/predict/"):
                answers.append(response)

        page.on("response", keep)
        draw_with_mouse(page, strokes_named("7-crossed"), scale=0.8, offset=(0.05, 0.03))
        expect_state(page, "done")
        page.remove_listener("response", keep)
        return answers[-1].json()

    with procfile_server(environment) as (url, _):
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        page.goto(url)
        first = answer_to_a_drawing(page)
        assert first["model_version"] == COMMITTED_VERSION
        expect_corrections_offered(page)
        # The person says it was another digit: the model got it wrong for them.
        said = (first["digit"] + 1) % 10
        with page.expect_response("**/api/corrections") as corrected:
            digit_button(page, said).click()
        assert corrected.value.status == 201

        assert "1 trusted, 0 quarantined" in flask("corrections", "check")  # checked before trained on
        export = tmp_path / "corrections.npz"
        assert "Wrote 1 corrections" in flask("corrections", "export", "--out", export)
        out = tmp_path / "corrected-model"
        train_mnist.main([
            "--data", str(mnist_path), "--pendigits", str(pendigits_file), "--limit", "300", "--epochs", "1",
            "--pen-drawings", "1", "--corrections", str(export), "--out", str(out), "--verbose", "0",
        ])
        metadata = read_metadata(out)
        assert metadata["corrections"]["trained_on"] + metadata["corrections"]["held_out"] == 1
        flask("models", "add", out)
        flask("models", "promote", metadata["version"], "--force")  # Briefly trained: worse.

        deadline = time.monotonic() + 10
        while (answer := answer_to_a_drawing(page))["model_version"] != metadata["version"]:
            assert time.monotonic() < deadline, "the page is still answered by the old version"
        expect(page.get_by_test_id("prediction")).to_have_text(str(answer["digit"]))
        context.close()




def test_test_time_augmentation_is_set_from_the_config():
    from web.settings import settings_from_environment

    config = settings_from_environment({})
    assert config["TTA_BELOW"] == TTA_BELOW
    served = build_served_model({**config, "TTA_BELOW": 0.0}, DEFAULT_MODEL_DIR)
    assert served.classifier.tta_below == 0.0
