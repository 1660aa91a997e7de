"""deploy/: the build script's interface, docker-compose.yml and the Kubernetes manifests stay consistent with the
collector configuration and the binaries the tests run (Docker and Kubernetes are not available here, so these
checks are what keeps them honest)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.stack import BUILD_SCRIPT, COLLECTOR_CONFIG, REPO_ROOT, StackBinaries, read_stack_paths

DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
ENV_REFERENCE = re.compile(r"\$\{env:([A-Z0-9_]+)")


def script_setting(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", BUILD_SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{name} not set in {BUILD_SCRIPT}"
    return match.group(1)


def collector_env_names() -> set[str]:
    return set(ENV_REFERENCE.findall(COLLECTOR_CONFIG.read_text()))


def load_compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    return compose


def k8s_objects() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        objects += [doc for doc in yaml.safe_load_all((K8S / resource).read_text()) if doc]
    return objects


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def container_env(workload: dict[str, Any]) -> dict[str, Any]:
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# --------------------------------------------------------------------------------------------------------------
# build-stack.sh


def test_print_paths_names_versioned_binaries_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENTRAIL_STACK_CACHE", str(tmp_path))
    paths = read_stack_paths()
    assert set(paths) == {"OTELCOL_BIN", "JAEGER_BIN", "STACK_CACHE"}
    assert paths["STACK_CACHE"] == str(tmp_path)
    manifest = yaml.safe_load((DEPLOY / "otelcol-builder.yaml").read_text())
    otelcol = Path(paths["OTELCOL_BIN"])
    assert otelcol.parent.parent == tmp_path
    assert otelcol.name == manifest["dist"]["name"]
    assert otelcol.parent.name.startswith(f"{manifest['dist']['name']}-{manifest['dist']['version']}-")
    assert Path(paths["JAEGER_BIN"]) == tmp_path / f"jaeger-{script_setting('JAEGER_VERSION')}" / "jaeger"
    assert not list(tmp_path.iterdir()), "--print-paths must not build or create anything"


def test_build_script_rejects_unknown_arguments() -> None:
    result = subprocess.run(["bash", str(BUILD_SCRIPT), "--frobnicate"], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "unknown argument" in result.stderr


def test_build_script_reuses_the_cache(stack_binaries: StackBinaries) -> None:
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("cached: ") == 2
    assert f"OTELCOL_BIN={stack_binaries.otelcol}" in result.stdout.splitlines()
    env_file = (stack_binaries.cache / "stack.env").read_text().splitlines()
    assert f"JAEGER_BIN={stack_binaries.jaeger}" in env_file


def test_built_binaries_report_the_pinned_versions(stack_binaries: StackBinaries) -> None:
    manifest = yaml.safe_load((DEPLOY / "otelcol-builder.yaml").read_text())
    otelcol = subprocess.run([stack_binaries.otelcol, "--version"], capture_output=True, text=True, check=True)
    assert manifest["dist"]["version"] in otelcol.stdout
    jaeger = subprocess.run([stack_binaries.jaeger, "version"], capture_output=True, text=True, check=True)
    assert script_setting("JAEGER_VERSION") in jaeger.stdout + jaeger.stderr


# --------------------------------------------------------------------------------------------------------------
# docker-compose.yml


def test_compose_builds_from_files_that_exist() -> None:
    for name, service in load_compose()["services"].items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).is_file(), f"{name}: {source}"


def test_compose_collector_mounts_every_config_it_names_and_sets_real_knobs() -> None:
    collector = load_compose()["services"]["collector"]
    targets = {v.split(":")[1] for v in collector["volumes"]}
    for arg in collector["command"]:
        path = arg.split("=", 1)[1]
        if "${COLLECTOR_JAEGER_CONTENT" in path:
            for choice in ("with-content", "no-content"):
                assert re.sub(r"\$\{COLLECTOR_JAEGER_CONTENT[^}]*\}", choice, path) in targets
        else:
            assert path in targets
    # Every variable compose sets on the collector is one collector-config.yaml reads.
    assert set(collector["environment"]) <= collector_env_names()
    # The collector and the sink share one token variable.
    sink = load_compose()["services"]["sink"]
    assert collector["environment"]["TOKENTRAIL_SINK_TOKEN"] == sink["environment"]["TOKENTRAIL_SINK_TOKEN"]


def test_compose_prometheus_scrapes_the_collectors_metrics_exporter() -> None:
    services = load_compose()["services"]
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:v")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in prometheus["volumes"]}
    config_path = next(a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config.file="))
    scrape = yaml.safe_load((DEPLOY / mounts[config_path]).read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    targets = {t for job in jobs.values() for c in job["static_configs"] for t in c["targets"]}
    # The applications' metrics: the port collector-config.yaml's prometheus exporter listens on by default.
    exporter = yaml.safe_load(COLLECTOR_CONFIG.read_text())["exporters"]["prometheus"]
    port = re.search(r":-[\d.]+:(\d+)\}$", exporter["endpoint"])
    assert port, exporter["endpoint"]
    assert f"collector:{port[1]}" in targets
    apps = next(job for job in jobs.values() if f"collector:{port[1]}" in job["static_configs"][0]["targets"])
    assert apps["honor_labels"] is True, "series keep their own job (service.name) and instance"
    config = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    own = config["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]["port"]
    own_port = re.search(r":-(\d+)\}$", own)
    assert own_port, own
    assert port[1] != own_port[1], "the applications' metrics and the collector's own need two ports"
    # The collector's own telemetry and the sink's metrics, on the ports compose gives them.
    assert f"collector:{own_port[1]}" in targets
    sink_port = services["sink"]["command"][services["sink"]["command"].index("--port") + 1]
    assert f"sink:{sink_port}" in targets
    assert config["service"]["pipelines"]["metrics"]["exporters"] == ["prometheus"]


def test_compose_services_run_modules_that_exist() -> None:
    services = load_compose()["services"]
    for name in ("sink", "standin"):
        command = services[name]["command"]
        assert command[:2] == ["python", "-m"]
        assert importlib.util.find_spec(command[2]) is not None, name
    app_module = services["app"]["command"][2].split(":")[0]
    assert (REPO_ROOT / (app_module.replace(".", "/") + ".py")).is_file()


def test_pinned_versions_agree_across_deploy_files() -> None:
    ocb = script_setting("OCB_VERSION")
    dockerfile = (DEPLOY / "collector.Dockerfile").read_text()
    assert f"ARG OCB_VERSION={ocb}" in dockerfile
    manifest = (DEPLOY / "otelcol-builder.yaml").read_text()
    assert set(re.findall(r"^\s+- gomod: \S+ (v0\.\d+\.\d+)$", manifest, re.MULTILINE)) == {ocb}
    jaeger_version = script_setting("JAEGER_VERSION").removeprefix("v")
    assert load_compose()["services"]["jaeger"]["image"] == f"jaegertracing/jaeger:{jaeger_version}"
    objects = k8s_objects()
    assert container_image(find(objects, "Deployment", "jaeger")) == f"jaegertracing/jaeger:{jaeger_version}"
    contrib = f"otel/opentelemetry-collector-contrib:{ocb.removeprefix('v')}"
    assert container_image(find(objects, "DaemonSet", "otelcol-agent")) == contrib


def container_image(workload: dict[str, Any]) -> str:
    image: str = workload["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


# --------------------------------------------------------------------------------------------------------------
# Jaeger configuration


def test_jaeger_configs_are_the_same_and_valid(stack_binaries: StackBinaries) -> None:
    compose_config = DEPLOY / "jaeger-config.yaml"
    configmap = find(k8s_objects(), "ConfigMap", "jaeger-config")
    assert yaml.safe_load(configmap["data"]["config.yaml"]) == yaml.safe_load(compose_config.read_text())
    result = subprocess.run(
        [stack_binaries.jaeger, "validate", "--config", str(compose_config)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------------------------------------------
# Kubernetes


def test_k8s_manifests_are_well_formed() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for generator in kustomization.get("configMapGenerator", []):
        for file in generator["files"]:
            assert (K8S / file).is_file()
    objects = k8s_objects()
    assert objects
    for obj in objects:
        assert obj["apiVersion"]
        assert obj["kind"]
        assert obj["metadata"]["name"]
        spec = obj.get("spec", {})
        if "selector" in spec and "template" in spec:
            labels = spec["template"]["metadata"]["labels"]
            assert spec["selector"]["matchLabels"].items() <= labels.items(), obj["metadata"]["name"]


def test_agents_route_by_trace_id_through_a_headless_service() -> None:
    namespace = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    objects = k8s_objects()
    agent = yaml.safe_load((K8S / "agent-config.yaml").read_text())
    lb = agent["exporters"]["loadbalancing"]
    assert lb["routing_key"] == "traceID"
    assert lb["retry_on_failure"]["max_elapsed_time"] == 0
    hostname = lb["resolver"]["dns"]["hostname"]
    service_name, service_namespace = hostname.split(".")[:2]
    assert service_namespace == namespace
    headless = find(objects, "Service", service_name)
    assert headless["spec"]["clusterIP"] == "None"
    assert lb["resolver"]["dns"]["port"] in {p["port"] for p in headless["spec"]["ports"]}
    gateway = find(objects, "StatefulSet", "otelcol-gateway")
    assert gateway["spec"]["serviceName"] == service_name
    assert headless["spec"]["selector"].items() <= gateway["spec"]["template"]["metadata"]["labels"].items()


def test_gateway_and_sink_wiring() -> None:
    objects = k8s_objects()
    services = {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}
    gateway_env = container_env(find(objects, "StatefulSet", "otelcol-gateway"))
    assert set(gateway_env) - {"GOMEMLIMIT"} <= collector_env_names()
    for variable in ("JAEGER_OTLP_ENDPOINT", "TOKENTRAIL_SINK_ENDPOINT"):
        host = gateway_env[variable].removeprefix("http://").split(".")[0]
        assert host in services, variable
    secret = yaml.safe_load((K8S / "secrets.example.yaml").read_text())
    for workload in (find(objects, "StatefulSet", "otelcol-gateway"), find(objects, "Deployment", "tokentrail-sink")):
        for value in container_env(workload).values():
            if isinstance(value, dict) and "secretKeyRef" in value:
                assert value["secretKeyRef"]["name"] == secret["metadata"]["name"]
                assert value["secretKeyRef"]["key"] in secret["stringData"]
    hpa = find(objects, "HorizontalPodAutoscaler", "tokentrail-sink")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "tokentrail-sink"
    assert hpa["spec"]["minReplicas"] >= 2
