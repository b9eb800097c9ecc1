"""docker-compose.yml: two independent validators, mounted paths, exposure, pins, the GPU add-on.

Needs no Docker engine. The validators are Debian's ``docker-compose`` (1.29) and the pip package
``check-jsonschema`` (compose-spec schema); their tests skip only when the tool is not installed.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
GPU = ROOT / "docker-compose.gpu.yml"
NODE = ROOT / "docker-compose.node.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SERVICES = {"exporter", "prometheus", "alertmanager", "grafana"}


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _interpolate(value, env: dict[str, str]):
    """Compose-style ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` substitution."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator and operator.endswith("-"):
            return argument
        if operator and operator.endswith("?"):
            raise KeyError(f"{name}: {argument}")
        return ""

    return _VARIABLE.sub(replace, value)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml as it reads with the values of .env.example."""
    return _interpolate(_load(COMPOSE), _env_example())


def _environment_without_compose(env=None) -> dict[str, str]:
    return {k: v for k, v in (os.environ if env is None else env).items() if not k.startswith("COMPOSE_")}


def _run(command: list[str], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=_environment_without_compose(env), capture_output=True,
                          text=True, timeout=120, **kwargs)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (CI installs it: see .ci/run)")
    return path


# --- the two validators ---------------------------------------------------------------------


def test_docker_compose_accepts_the_file_with_the_example_settings():
    tool = _need("docker-compose")
    result = _run([tool, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config", "-q"])
    assert result.returncode == 0, result.stderr


def test_docker_compose_names_the_missing_log_setting_without_an_env_file(tmp_path):
    tool = _need("docker-compose")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = _run([tool, "--env-file", str(empty), "-f", str(COMPOSE), "config", "-q"])
    assert result.returncode != 0
    assert "TRAIN_LOG_" in result.stderr and "cp .env.example .env" in result.stderr


def test_compose_spec_schema_accepts_the_file():
    tool = _need("check-jsonschema")
    result = _run([tool, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gpu_add_on_only_adds_the_gpu_reservation_and_host_pids():
    add_on = _load(GPU)
    assert set(add_on) == {"services"} and set(add_on["services"]) == {"exporter"}
    assert set(add_on["services"]["exporter"]) == {"deploy", "pid"}
    for path in (COMPOSE, NODE):
        exporter = _load(path)["services"]["exporter"]
        assert "deploy" not in exporter and "pid" not in exporter, f"{path.name}: the GPUs are the add-on's"


def test_no_file_needs_a_compose_newer_than_debians():
    """``!reset`` and ``!override`` need Compose 2.24; Debian's docker-compose is 1.29."""
    for path in ROOT.glob("docker-compose*.yml"):
        assert not re.search(r"!(reset|override)\b", path.read_text()), path.name


def _config_in_a_copy(tmp_path, compose_file: str | None, extra_env: dict[str, str] | None = None) -> dict:
    """``docker-compose config`` as a user runs it: the compose files and .env.example as .env in
    one directory, no -f; ``compose_file`` replaces .env's COMPOSE_FILE (None: keep the example's)."""
    tool = _need("docker-compose")
    for path in (COMPOSE, NODE, GPU):
        (tmp_path / path.name).write_text(path.read_text())
    env_text = ENV_EXAMPLE.read_text()
    if compose_file is not None:
        env_text = re.sub(r"^COMPOSE_FILE=.*$", f"COMPOSE_FILE={compose_file}", env_text, flags=re.M)
    (tmp_path / ".env").write_text(env_text)
    result = subprocess.run([tool, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env={**_environment_without_compose(), **(extra_env or {})})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_the_example_settings_give_the_exporter_the_gpus_with_docker_compose_v1(tmp_path):
    exporter = _config_in_a_copy(tmp_path, None)["services"]["exporter"]
    assert exporter["pid"] == "host"
    (device,) = exporter["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["utility"]


def test_leaving_the_gpu_add_on_out_gives_a_valid_gpu_less_stack_with_docker_compose_v1(tmp_path):
    config = _config_in_a_copy(tmp_path, "docker-compose.yml")
    assert set(config["services"]) == SERVICES
    assert "deploy" not in config["services"]["exporter"] and "pid" not in config["services"]["exporter"]


def test_the_gpu_add_on_fits_the_node_file_too(tmp_path):
    config = _config_in_a_copy(tmp_path, "docker-compose.node.yml:docker-compose.gpu.yml", NODE_ENV)
    assert set(config["services"]) == {"exporter"}
    assert config["services"]["exporter"]["pid"] == "host"
    assert config["services"]["exporter"]["deploy"]["resources"]["reservations"]["devices"]


def test_compose_spec_schema_accepts_the_gpu_add_on():
    tool = _need("check-jsonschema")
    result = _run([tool, "--builtin-schema", "vendor.compose-spec", str(GPU)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_env_example_lists_the_gpu_add_on_by_default_and_shows_how_to_leave_it_out():
    assert _env_example()["COMPOSE_FILE"] == "docker-compose.yml:docker-compose.gpu.yml"
    assert "#   COMPOSE_FILE=docker-compose.yml\n" in ENV_EXAMPLE.read_text()


def test_alertmanager_runs_as_one_instance_without_cluster_gossip(compose):
    assert "--cluster.listen-address=" in compose["services"]["alertmanager"]["command"]


# --- what the file says ----------------------------------------------------------------------


def _bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def test_the_four_services_exist(compose):
    assert set(compose["services"]) == SERVICES


def test_every_path_mounted_from_the_repository_exists(compose):
    checked = 0
    for name, service in compose["services"].items():
        for source, _ in _bind_mounts(service):
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repository"
                checked += 1
    build = compose["services"]["exporter"]["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert checked >= 8


def test_the_log_directory_is_mounted_read_only_from_the_env_setting():
    raw = _load(COMPOSE)["services"]["exporter"]
    assert any(v.startswith("${TRAIN_LOG_DIR") and v.endswith(":/logs:ro") for v in raw["volumes"])
    assert any("${TRAIN_LOG_FILE" in part for part in raw["command"])


def test_mounts_land_where_the_configuration_files_expect_them(compose):
    services = compose["services"]
    prometheus_targets = {t for _, t in _bind_mounts(services["prometheus"])}
    config = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    for pattern in config.get("rule_files", []):
        directory = str(Path("/etc/prometheus") / Path(pattern).parent)
        assert directory in prometheus_targets, f"rule_files {pattern} is not mounted"

    am_targets = {t for _, t in _bind_mounts(services["alertmanager"])}
    am_config = yaml.safe_load((ROOT / "prometheus/alertmanager.yml").read_text())
    for pattern in am_config.get("templates", []):
        assert str(Path("/etc/alertmanager") / Path(pattern).parent) in am_targets
    for receiver in am_config.get("receivers", []):
        for slack in receiver.get("slack_configs", []):
            if "api_url_file" in slack:
                directory = str(Path(slack["api_url_file"]).parent)
                mount = dict((t, s) for s, t in _bind_mounts(services["alertmanager"]))
                assert mount.get(directory) == "./secrets/alertmanager", \
                    "the Slack webhook file must come from secrets/alertmanager/"

    grafana = services["grafana"]
    grafana_mounts = {t: s for s, t in _bind_mounts(grafana)}
    providers = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/training.yml").read_text())
    for provider in providers["providers"]:
        assert grafana_mounts.get(provider["options"]["path"]) == "./grafana/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    home_dir, home_file = home.rsplit("/", 1)
    assert (ROOT / grafana_mounts[home_dir] / home_file).is_file()
    assert grafana_mounts.get("/etc/grafana/provisioning") == "./grafana/provisioning"
    assert grafana["entrypoint"][-1] in grafana_mounts
    assert grafana_mounts.get("/run/secrets/training") == "./secrets/grafana"
    assert "/run/secrets/training/grafana_admin_password" in (ROOT / "grafana/start.sh").read_text()


# Each secret's service, the file it reads and the uid its image runs as (prom/alertmanager: USER
# nobody; grafana/grafana: USER 472), which secrets/README.md tells the user to chown the file to.
SECRETS = {"alertmanager": ("slack_webhook_url", 65534), "grafana": ("grafana_admin_password", 472)}


def test_each_secret_is_mounted_into_its_own_service_only(compose):
    mounted = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if Path(source).parts[0] == "secrets":
                assert source == f"./secrets/{name}", f"{name} mounts {source}: only its own ./secrets/{name}"
                assert volume.endswith(":ro"), f"{name} must mount its secrets read-only"
                mounted[name] = source
        assert "secrets" not in service, f"{name}: no compose secrets: the files are optional"
        if name in SECRETS:
            assert "user" not in service, f"{name}: runs as its image's user, who owns the secret file"
    assert mounted == {name: f"./secrets/{name}" for name in SECRETS}
    for name in SECRETS:
        assert (ROOT / "secrets" / name).is_dir(), f"secrets/{name}/ is tracked, so Docker never creates it as root"


def test_the_secrets_readme_makes_each_file_0600_and_its_services_own():
    text = (ROOT / "secrets/README.md").read_text() + (ROOT / "README.md").read_text()
    assert "chmod 644" not in text
    for name, (file, uid) in SECRETS.items():
        assert f"(umask 077 && " in text and f"> secrets/{name}/{file})" in text
        assert f"sudo chown {uid} secrets/{name}/{file}" in text


def test_only_grafana_is_published_beyond_localhost(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip = port.split(":")[0] if port.count(":") == 2 else "0.0.0.0"
            if name == "grafana":
                continue
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond localhost"
    assert compose["services"]["grafana"]["ports"]


def test_grafana_never_starts_with_the_default_admin_password(compose):
    environment = compose["services"]["grafana"]["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    script = (ROOT / "grafana/start.sh").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE" in script
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == _env_example()["GRAFANA_ANONYMOUS"]


def test_images_are_pinned_and_services_restart(compose):
    for name, service in compose["services"].items():
        assert service["restart"] == "unless-stopped", name
        if "build" in service:
            continue
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned to a version"


def test_state_lives_in_named_volumes(compose):
    declared = set(compose["volumes"])
    wanted = {"exporter": "/var/lib/training-exporter", "prometheus": "/prometheus", "grafana": "/var/lib/grafana"}
    for name, target in wanted.items():
        named = [v for v in compose["services"][name]["volumes"] if not v.startswith((".", "/"))]
        assert any(v.split(":")[0] in declared and v.split(":")[1] == target for v in named), name


def test_the_gpu_add_on_gives_the_exporter_the_gpus_for_nvml_and_host_pids():
    exporter = _load(GPU)["services"]["exporter"]
    assert exporter["pid"] == "host"
    (device,) = exporter["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": "all", "capabilities": ["utility"]}


def test_exporter_command_uses_only_flags_the_cli_knows(compose):
    from exporter.commands.cli import build_parser

    command = compose["services"]["exporter"]["command"]
    args = build_parser().parse_args(command)
    assert args.listen_address == "0.0.0.0" and args.port == 9842
    assert args.state_file.startswith("/var/lib/training-exporter/")


def test_the_stack_leaves_slack_to_alertmanager(compose):
    from exporter.commands.cli import build_parser

    args = build_parser().parse_args(compose["services"]["exporter"]["command"])
    assert args.slack_webhook_file is None  # the exporter's own Slack messages would come twice


def test_dockerfile_runs_as_non_root_with_a_metrics_healthcheck():
    dockerfile = (ROOT / "exporter/Dockerfile").read_text()
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*/metrics", dockerfile, re.M)


def test_dockerignore_keeps_what_the_dockerfile_copies():
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "the build context starts empty and lists what it needs"
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = set()
    for line in re.findall(r"^COPY (.+)$", (ROOT / "exporter/Dockerfile").read_text(), re.M):
        copied.update(part.rstrip("/") for part in line.split()[:-1])
    assert copied and copied <= kept, f"copied but ignored: {sorted(copied - kept)}"


def _env_example_mentions() -> set[str]:
    """Variables .env.example sets or shows commented out (``# NAME=value``: optional ones)."""
    return set(re.findall(r"^(?:# )?([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))


def test_env_example_documents_every_variable_the_compose_file_reads():
    used = set(_VARIABLE.findall(COMPOSE.read_text()) + _VARIABLE.findall(NODE.read_text()))
    names = {name for name, _, _ in used}
    documented = _env_example_mentions()
    assert names <= documented, f"not in .env.example: {sorted(names - documented)}"
    for name in ("TRAIN_LOG_DIR", "TRAIN_LOG_FILE", "RUN_NAME", "PRICE_PER_KWH", "CURRENCY", "GRAFANA_ANONYMOUS"):
        assert name in documented


def test_interpolation_follows_compose_rules():
    env = {"A": "x", "EMPTY": ""}
    assert _interpolate("${A}/${B:-d}/${EMPTY:-e}", env) == "x/d/e"
    with pytest.raises(KeyError, match="set B"):
        _interpolate("${B:?set B}", env)
    original = {"k": ["${A}"]}
    assert _interpolate(copy.deepcopy(original), env) == {"k": ["x"]}


# --- docker-compose.node.yml: the exporter alone, on the other nodes of a multi-node run -----------

NODE_ENV = {"EXPORTER_BIND": "10.0.0.12", "NODE_NAME": "gpu-node-2"}


def test_the_node_file_passes_both_validators():
    result = _run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(NODE)]) \
        if shutil.which("check-jsonschema") else None
    assert result is None or result.returncode == 0, result.stdout + result.stderr
    tool = _need("docker-compose")
    result = _run([tool, "--env-file", str(ENV_EXAMPLE), "-f", str(NODE), "config", "-q"],
                  env={**os.environ, **NODE_ENV})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("missing", sorted(NODE_ENV))
def test_the_node_file_names_what_a_node_must_set(missing):
    """No default node name (two nodes with one name would count as one) and no default address
    (the exporter must be reachable from the head node, on a network the user picks)."""
    tool = _need("docker-compose")
    env = {k: v for k, v in {**os.environ, **NODE_ENV}.items() if k != missing}
    result = _run([tool, "--env-file", str(ENV_EXAMPLE), "-f", str(NODE), "config", "-q"], env=env)
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr


def test_the_node_file_runs_the_exporter_alone_in_gpu_only_mode():
    from exporter.commands.cli import build_parser

    node = _interpolate(_load(NODE), {**_env_example(), **NODE_ENV})
    assert set(node["services"]) == {"exporter"}
    exporter = node["services"]["exporter"]
    args = build_parser().parse_args(exporter["command"])
    assert args.log is None, "the head node follows the log; the others report their GPUs only"
    assert args.run == _env_example()["RUN_NAME"] and args.node == "gpu-node-2"
    assert args.listen_address == "0.0.0.0" and args.port == 9842
    assert args.state_file.startswith("/var/lib/training-exporter/")
    head = _interpolate(_load(COMPOSE), _env_example())["services"]["exporter"]
    for key in ("build", "image", "restart"):
        assert exporter[key] == head[key], key
    assert exporter["ports"] == ["10.0.0.12:9842:9842"]
    assert [v.split(":")[0] for v in exporter["volumes"]] == ["./secrets/exporter", "exporter-state"], "no log to mount"
    assert exporter["volumes"][0].endswith(":ro") and args.web_config_file == ""  # plain HTTP unless set


def test_the_head_exporter_has_a_fixed_node_name_and_prometheus_reads_the_node_list(compose):
    from exporter.commands.cli import build_parser

    args = build_parser().parse_args(compose["services"]["exporter"]["command"])
    assert args.node == "head"
    mounts = dict((t, s) for s, t in _bind_mounts(compose["services"]["prometheus"]))
    assert mounts["/etc/prometheus/targets"] == "./prometheus/targets"
    config = yaml.safe_load((ROOT / "prometheus/prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "training-exporter"]
    for sd in job["file_sd_configs"]:
        for pattern in sd["files"]:
            assert str(Path("/etc/prometheus") / Path(pattern).parent) in mounts
