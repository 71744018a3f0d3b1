"""deploy/ keeps up with the code: every setting documented, the example loads, and the container,
compose and systemd files say what docs/deploy.md promises (health check, offline model, SIGTERM)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import yaml

from bot.config import Settings, load_settings
from bot.schedule.tasks import QUEUES

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
EXAMPLE = (DEPLOY / ".env.example").read_text()


def env_name(field: str) -> str:
    return "DATABASE_URL" if field == "database_url" else f"PAPERBOT_{field.upper()}"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_env_example_with_a_comment_line(field: str) -> None:
    lines = EXAMPLE.splitlines()
    where = [n for n, line in enumerate(lines) if re.match(rf"^#? ?{env_name(field)}=", line)]
    assert len(where) == 1, f"{env_name(field)} should appear once in deploy/.env.example"
    above = lines[where[0] - 1]
    assert above.startswith("# ") and "=" not in above.split()[1], f"no comment line above {env_name(field)}"


def test_env_example_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for line in EXAMPLE.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, value)
    settings = load_settings(data_dir=tmp_path)
    assert settings.base_url == "https://paperbot.example.org" and settings.sources


def test_compose_runs_two_web_processes_and_workers_per_queue_after_a_healthy_postgres_15() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    db, web = services["db"], services["web"]
    assert db["image"] == "postgres:15" and "pg_isready" in db["healthcheck"]["test"][1]
    assert web["command"][3:5] == ["serve", "--web"] and web["deploy"]["replicas"] == 2
    assert "/healthz" in " ".join(web["healthcheck"]["test"])
    queues = {}
    for name in ("web", "worker-deliver", "worker-embed", "worker-slack"):
        app = services[name]  # every paperbot process shares the database, settings and image
        assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert app["environment"]["DATABASE_URL"].startswith("postgresql://paperbot:")
        assert app["env_file"] == [{"path": ".env", "required": False}]
        assert app["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        if name.startswith("worker-"):
            assert app["command"][3] == "worker"
            queues[name] = app["command"][app["command"].index("--queues") + 1]
    # Together the workers take every queue the tasks use.
    assert sorted(q for group in queues.values() for q in group.split(",")) == sorted(QUEUES)
    assert set(compose["volumes"]) == {"pgdata", "paperbot-data"}


def test_systemd_worker_template_takes_its_queues_from_the_instance_name() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / "paperbot-worker@.service").read_text())
    service = unit["Service"]
    assert service["ExecStart"].endswith("python -m bot worker --queues %i --concurrency 1")
    assert service["KillSignal"] == "SIGTERM" and service["User"] == "paperbot"
    assert "HF_HUB_OFFLINE=1" in service["Environment"]


def test_dockerfile_installs_cpu_torch_first_runs_offline_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert text.index("torch==2.13.0") < text.index("pip install .")
    assert "HF_HUB_OFFLINE=1" in text and "Encoder().encode" in text  # the model loads offline at build
    assert re.search(r"^USER paperbot$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    assert 'CMD ["python", "-m", "bot", "serve", "--host", "0.0.0.0", "--port", "8000"]' in text


def test_systemd_unit_serves_and_stops_gracefully() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string((DEPLOY / "paperbot.service").read_text())
    service = unit["Service"]
    assert service["ExecStart"].endswith("python -m bot serve --host 127.0.0.1 --port 8000")
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) > 30  # drain is 30 s
    assert "HF_HUB_OFFLINE=1" in service["Environment"] and service["User"] == "paperbot"
