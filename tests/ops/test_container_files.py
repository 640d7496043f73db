"""The container files agree with the code they run: Dockerfile, .dockerignore, compose.yaml and
deploy/ name CLI commands and options that exist, ETEST_* variables that Settings knows (with
values it accepts), a health check path the app answers, problem codes the app describes, and
proxy limits equal to the app's. Fast and offline: the image itself is built and run by
scripts/container_smoke (CI), which no unit test can stand in for."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import yaml

from etest import cli
from etest.config import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "etest.conf.template"
#: Services that run eTest's image.
ETEST_SERVICES = ("migrate", "app", "worker")


# -- readers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: int  # index of the FROM it belongs to (-1: before the first FROM)


def dockerfile() -> list[Instruction]:
    """Instructions with their continuation lines joined and comments dropped (as the builders
    read them: a comment line inside a continued instruction is skipped)."""
    out: list[Instruction] = []
    stage, pending = -1, ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        if keyword.upper() == "FROM":
            stage += 1
        out.append(Instruction(keyword.upper(), args.strip(), stage))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return out


def runtime_stage() -> list[Instruction]:
    instructions = dockerfile()
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved
    return data


def command_path(argv: list[str]) -> Any:
    """The CLI command ``argv`` (``etest ...``) runs, checked against the real typer app: each
    subcommand and each ``--option`` must exist (their values are parsed as the CLI would).
    (Duck-typed: typer brings its own copy of click, whose classes are not ``click``'s.)"""
    assert argv[0] == "etest", argv
    command: Any = typer.main.get_command(cli.app)
    ctx_args = argv[1:]
    while hasattr(command, "commands"):
        assert ctx_args, f"{argv}: a group needs a subcommand"
        name, ctx_args = ctx_args[0], ctx_args[1:]
        sub = command.commands.get(name)
        assert sub is not None, f"{argv}: no command {name!r} in the CLI"
        command = sub
    # click parses the rest as the command would (unknown options fail), without running it
    with command.make_context("etest", list(ctx_args), resilient_parsing=False) as ctx:
        assert ctx.command is command
    return command


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}``."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if name in env:
            return env[name]
        if op == ":?":
            raise AssertionError(f"{name} is required: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", sub, value)


#: What an operator sets (compose.yaml's header says so).
OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "ETEST_SECRET_KEY": "not-a-secret-just-a-test",
    "ETEST_DOMAIN": "etest.example.org",
}


def service_env(service: dict[str, Any]) -> dict[str, str | None]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a map, so the anchor's merge reads the same"
    return {k: None if v is None else interpolate(str(v), OPERATOR_ENV) for k, v in env.items()}


def settings_fields() -> set[str]:
    return {f"ETEST_{name.upper()}" for name in Settings.model_fields}


# -- Dockerfile --------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_one_base_argument() -> None:
    instructions = dockerfile()
    first_from = next(i for i in instructions if i.keyword == "FROM")
    base_args = [i for i in instructions if i.keyword == "ARG" and i.args.startswith("BASE=")]
    assert base_args and base_args[0].stage == -1, "ARG BASE must come before the first FROM"
    assert base_args[0].args == "BASE=python:3.11-slim-bookworm"
    froms = [i.args.split() for i in instructions if i.keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage: a builder and a runtime"
    names = set()
    for words in froms:
        # every stage starts from the base or from an earlier stage
        assert words[0] == "${BASE}" or words[0] in names, words
        if len(words) == 3 and words[1].upper() == "AS":
            names.add(words[2])
    assert first_from.args.startswith("${BASE}")
    assert froms[-1][0] == "${BASE}", "the runtime starts from the bare base, not the builder"


def test_runtime_runs_as_the_etest_user_not_root() -> None:
    runtime = runtime_stage()
    users = [i.args for i in runtime if i.keyword == "USER"]
    assert users and users[-1] == "etest"
    run = " ".join(i.args for i in runtime if i.keyword == "RUN")
    assert "useradd" in run and re.search(r"useradd\b.*\betest\b", run)


def test_default_command_and_worker_are_cli_commands() -> None:
    cmd = [i.args for i in runtime_stage() if i.keyword == "CMD"]
    assert len(cmd) == 1
    argv = json.loads(cmd[0])  # exec form: signals reach etest, not a shell
    assert command_path(argv).name == "serve"
    # the worker is the same image with another command (compose.yaml, the smoke test)
    assert command_path(["etest", "worker"]).name == "worker"
    assert command_path(["etest", "db", "upgrade"]).name == "upgrade"


def test_env_names_are_settings_and_values_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {}
    for inst in runtime_stage():
        if inst.keyword == "ENV":
            for name, value in re.findall(r"(\w+)=(\S+)", inst.args):
                env[name] = value
    etest_env = {k: v for k, v in env.items() if k.startswith("ETEST_")}
    assert etest_env, "the image sets its ETEST_ defaults"
    assert set(etest_env) <= settings_fields(), set(etest_env) - settings_fields()
    for name, value in etest_env.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert str(settings.var_dir) == "/var/lib/etest"
    volumes = [json.loads(i.args) for i in runtime_stage() if i.keyword == "VOLUME"]
    assert volumes == [[str(settings.var_dir)]], "media and keys in a volume"
    exposed = [i.args for i in runtime_stage() if i.keyword == "EXPOSE"]
    assert exposed == [str(settings.port)]


async def test_health_check_asks_a_path_the_app_answers(client: httpx.AsyncClient) -> None:
    checks = [i.args for i in runtime_stage() if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    words = shlex.split(checks[0])
    argv = json.loads(checks[0][checks[0].index("CMD") + 3 :])
    assert "--interval=30s" in words and argv[0] == "python3"  # no curl in slim images
    path = re.search(r"http://127\.0\.0\.1:%s(/[\w/-]+)", argv[-1])
    assert path is not None, argv
    resp = await client.get(path.group(1))
    assert resp.status_code == 200, resp.text


def test_copied_sources_exist_and_pass_dockerignore() -> None:
    ignore = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", ".dockerignore lets in only what is named"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert not allowed & {"var", ".venv", ".git", "tests"}
    for inst in dockerfile():
        if inst.keyword != "COPY" or "--from=" in inst.args:
            continue
        *sources, _target = inst.args.split()
        for source in sources:
            source = source.rstrip("/")
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source in allowed, f"COPY {source}: excluded by .dockerignore"


# -- compose.yaml ----------------------------------------------------------------------------


def test_compose_has_the_services_of_a_deployment() -> None:
    services = compose()["services"]
    assert {"app", "worker", "migrate", "postgres", "redis", "proxy"} <= set(services)
    assert services["app"]["deploy"]["replicas"] >= 2
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    # the apps wait for the migrations, the proxy for healthy apps
    assert services["app"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"
    for name, service in services.items():
        assert "healthcheck" in service, f"{name}: say its health check (or disable it)"


def test_compose_commands_are_cli_commands() -> None:
    services = compose()["services"]
    assert command_path(services["migrate"]["command"]).name == "upgrade"
    assert command_path(services["app"]["command"]).name == "serve"
    assert command_path(services["worker"]["command"]).name == "worker"
    for name in ETEST_SERVICES:
        assert "build" in services[name] and services[name]["build"]["context"] == "."


def test_compose_env_is_settings_and_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    for name in ETEST_SERVICES:
        env = service_env(services[name])
        etest_env = {k: v for k, v in env.items() if k.startswith("ETEST_")}
        assert set(etest_env) <= settings_fields(), set(etest_env) - settings_fields()
        for key in list(etest_env):
            monkeypatch.delenv(key, raising=False)
        for key, value in etest_env.items():
            if value is not None:  # null: passed from the operator's environment when set
                monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        # PostgreSQL and Redis of this file, the outbox on the worker alone
        assert settings.database_url.startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in settings.database_url
        assert settings.redis_url == "redis://redis:6379/0"
        assert not settings.embedded_worker
        assert settings.base_url == "https://etest.example.org"
        assert settings.secret_key is not None, "one pepper shared by every replica"


def test_compose_trusts_the_network_of_the_proxy() -> None:
    data = compose()
    env = service_env(data["services"]["app"])
    trusted = [ipaddress.ip_network(n) for n in json.loads(env["ETEST_TRUSTED_PROXIES"] or "")]
    subnets = [
        ipaddress.ip_network(c["subnet"]) for c in data["networks"]["backend"]["ipam"]["config"]
    ]
    assert data["services"]["proxy"]["networks"] == ["backend"]
    assert all(any(s.subnet_of(t) for t in trusted) for s in subnets), (trusted, subnets)


def test_compose_health_checks_match_the_app() -> None:
    services = compose()["services"]
    serve = services["app"]["command"]
    port = serve[serve.index("--port") + 1]
    assert f"127.0.0.1:{port}/health" in services["app"]["healthcheck"]["test"]
    assert services["worker"]["healthcheck"] == {"disable": True}
    upstream = re.search(r"server app:(\d+) ", NGINX_TEMPLATE.read_text())
    assert upstream is not None and upstream.group(1) == port
    assert str(port) in services["app"]["expose"]


def test_compose_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


# -- the proxy ---------------------------------------------------------------------------------


def _size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


def test_proxy_limits_are_the_apps() -> None:
    conf = NGINX_TEMPLATE.read_text()
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    body = re.search(r"^client_max_body_size (\w+);", conf, re.M)
    assert body is not None and _size(body.group(1)) == defaults.max_content_bytes
    header = re.search(r"^large_client_header_buffers \d+ (\w+);", conf, re.M)
    assert header is not None and _size(header.group(1)) == defaults.max_request_head_bytes
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", conf)
    assert re.search(r"proxy_set_header X-Forwarded-Proto \$scheme;", conf)
    assert re.search(r"listen 443 ssl", conf) and "limit_req zone=" in conf


async def test_proxy_refusals_are_the_apps_problems(client: httpx.AsyncClient) -> None:
    conf = NGINX_TEMPLATE.read_text()
    bodies = re.findall(r"return (\d+) '(\{.*\})';", conf)
    assert len(bodies) >= 4
    for status, body in bodies:
        problem = json.loads(body)
        assert problem["status"] == int(status)
        described = await client.get(problem["type"])  # GET /errors/<code>
        assert described.status_code == 200, f"{problem['type']} is not a code of the app"
        assert described.json()["description"]
