"""The committed deployment files: Kubernetes manifests valid against the API's schemas
(kubernetes-validate ships them: no network), compose.yaml and deploy/nginx.conf as the docs
describe them, the Dockerfile's default base."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes_validate.utils import validate

from harness.nginx import local_config
from harness.servers import procfile_line

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
RELEASE = procfile_line("release").split()  # flask --app app db upgrade


def documents():
    return [(path.name, document) for path in MANIFESTS for document in yaml.safe_load_all(path.read_text()) if document]


@pytest.mark.parametrize("kubernetes", ["1.29", "1.37"])
def test_every_manifest_is_valid_against_the_kubernetes_schemas_strictly(kubernetes):
    for name, document in documents():
        validate(document, kubernetes, strict=True)  # Raises, naming the field, if not.
    kinds = {document["kind"] for _, document in documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Job", "CronJob"} <= kinds


def test_the_deployment_probes_readyz_and_healthz_and_the_job_runs_the_release_process():
    by_name = {(document["kind"], document["metadata"]["name"]): document for _, document in documents()}
    container = by_name[("Deployment", "digitpad")]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    job = by_name[("Job", "digitpad-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == RELEASE
    assert by_name[("HorizontalPodAutoscaler", "digitpad")]["spec"]["scaleTargetRef"]["name"] == "digitpad"
    retrain = by_name[("CronJob", "digitpad-retrain")]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert retrain["containers"][0]["command"] == ["flask", "--app", "app", "models", "retrain"]


def test_compose_runs_three_servers_behind_nginx_with_postgres_redis_and_a_migration_job():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert {"web1", "web2", "web3", "nginx", "postgres", "redis", "migrate"} <= set(services)
    assert services["migrate"]["command"] == RELEASE
    assert services["retrain"]["command"] == ["flask", "--app", "app", "models", "retrain"]
    assert services["retrain"]["profiles"] == ["retrain"]  # not started by `up`
    for web in ("web1", "web2", "web3"):
        assert services[web]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[web]["environment"]["DIGITPAD_RATE_LIMIT_STORAGE"].startswith("redis://redis:")
        assert services[web]["environment"]["DIGITPAD_TRUSTED_PROXIES"] == "1"
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert all(f"server {web}:8000" in nginx for web in ("web1", "web2", "web3"))


def test_nginx_sets_the_one_hop_the_app_trusts_and_retries_predictions_and_corrections():
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    for location in ("location /predict/ {", "location = /api/corrections {"):
        block = nginx.split(location, 1)[1].split("}", 1)[0]
        assert "proxy_next_upstream error timeout http_502 http_503 non_idempotent;" in block


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx is not installed")
def test_nginx_accepts_the_config(tmp_path):
    config = tmp_path / "nginx.conf"
    config.write_text(local_config([18001, 18002, 18003], 18000, tmp_path))
    program = shutil.which("nginx") or "/usr/sbin/nginx"
    result = subprocess.run([program, "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


def test_the_dockerfile_builds_on_the_official_python_image_by_default_and_serves_as_another_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG BASE=python:3.11-slim" in dockerfile
    build = dockerfile.split("AS build", 1)[1].split("\nFROM ", 1)[0]
    serve = dockerfile.split("AS serve", 1)[1].split("\nFROM ", 1)[0]
    assert "grep -v -E '^(tensorflow-cpu|keras|cleanlab)==' requirements.txt" in build  # Served with LiteRT.
    assert "USER digitpad" in serve and "COPY --from=build /opt/venv /opt/venv" in serve
    assert "AS cuda" in dockerfile
