"""Configuration: read `lines.toml` once at start, expand `${ENV}` references, validate.

Every error names the key and the problem (`channels.webchat[0].origins: ...`), so an admin can fix
the file without reading code. Environment variables `LINES_DATABASE_URL`, `LINES_DATA_DIR` and
`LINES_REDIS_URL` override the file.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError, create_model, field_validator

from lines.channels import CHANNELS, CHAT_KINDS
from lines.console.config_base import ConfigError as ConfigError
from lines.console.config_base import Section as _Section
from lines.console.config_base import SmtpServer
from lines.console.config_base import check_email_address as check_email_address

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DEFAULT_CONFIG_PATH = Path("config/lines.toml")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    public_url: str = ""
    secret_key: SecretStr = SecretStr("")
    trusted_proxies: list[str] = []
    allowed_origins: list[str] = []

    @field_validator("public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class StorageSettings(_Section):
    data_dir: str = "./data"
    database_url: str = ""
    database_schema: Annotated[str, Field(pattern=r"^([a-z_][a-z0-9_]{0,62})?$")] = ""
    max_attachment_bytes: Annotated[int, Field(ge=1024)] = 10 * 1024 * 1024
    attachment_types: list[str] = [
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ]


class BusSettings(_Section):
    redis_url: str = ""
    key_prefix: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")] = "lines"
    lease_seconds: Annotated[float, Field(ge=0.3, le=300)] = 15.0


class AuthSettings(_Section):
    session_hours: Annotated[int, Field(ge=1, le=24 * 90)] = 12
    login_window_seconds: Annotated[int, Field(ge=10)] = 900
    login_failures_per_account: Annotated[int, Field(ge=1)] = 5
    """Failures on one account from one address before that address waits (the delay then grows)."""
    login_failures_per_ip: Annotated[int, Field(ge=1)] = 20
    login_account_ceiling: Annotated[int, Field(ge=1)] = 100
    """Failures on one account from all addresses in a window: past it the account is under attack and
    only addresses that have not failed on it may still try."""


class OutboxSettings(_Section):
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 2.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 600.0
    poll_seconds: Annotated[float, Field(gt=0)] = 1.0
    lease_seconds: Annotated[float, Field(gt=0)] = 120.0


class ConsoleSettings(_Section):
    default_locale: Literal["en", "ru"] = "en"
    snooze_check_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0


def _unique_blocks(key: str) -> AfterValidator:
    """Blocks of one kind must differ in the field that names them (it is their inbox)."""
    what = "channel names" if key == "name" else key

    def check(blocks: list[Any]) -> list[Any]:
        names = [getattr(b, key) for b in blocks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"{what} must be unique; repeated: {', '.join(dupes)}")
        return blocks

    return AfterValidator(check)


class ChannelBlocks(_Section):
    """`[channels]`: a list of `[[channels.<kind>]]` blocks per kind in the channel registry."""

    if TYPE_CHECKING:

        def __getattr__(self, kind: str) -> list[Any]: ...

    def blocks(self, kind: str) -> list[Any]:
        """The configured blocks of one channel kind."""
        return list(getattr(self, kind))


if TYPE_CHECKING:
    ChannelsSettings = ChannelBlocks
else:
    ChannelsSettings = create_model(
        "ChannelsSettings",
        __base__=ChannelBlocks,
        **{kind: (Annotated[list[entry.config], _unique_blocks(entry.key)], []) for kind, entry in CHANNELS.items()},
    )


def _chat_kind(kind: str) -> str:
    if kind not in CHAT_KINDS:
        raise ValueError(f"{kind!r} is not a chat channel kind; use one of: {', '.join(CHAT_KINDS)}")
    return kind


ChatKind = Annotated[str, AfterValidator(_chat_kind)]
"""A chat channel kind of the registry (email replies always sign)."""


class RoutingSettings(_Section):
    """Routing engine; the rules themselves live in the store, seeded from `rules_file`."""

    rules_file: str = ""
    sweep_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    queue_batch: Annotated[int, Field(ge=1, le=100_000)] = 200
    arrival_grace_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    live_queue_seconds: Annotated[float, Field(ge=0, le=60)] = 1.0


class SlaSettings(_Section):
    """SLA; the policies live in the store, seeded from `policies_file`."""

    policies_file: str = ""
    timer_tick_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    sweep_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0


class BotSettings(_Section):
    """Suggestion bot and knowledge base."""

    kb_dir: str = ""
    enabled: bool = True
    auto_answer: bool = True
    name: str = "Lines bot"
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.4
    margin: Annotated[float, Field(ge=0, le=1)] = 0.12
    encoder: Literal["auto", "off"] = "auto"
    """`auto`: rank with the shipped sentence encoder too when its package is installed; `off`: lexically only."""
    disabled_channels: list[str] = []
    disabled_lead_types: list[str] = []


class CustomersSettings(_Section):
    """Customer 360, surveys, follow-ups and reports."""

    survey: Literal["off", "csat", "nps"] = "off"
    survey_answer_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 72
    auto_ack: dict[str, Annotated[str, Field(max_length=2000)]] = {}
    """Acknowledgement per channel kind (`telegram`) or channel (`email:support`); console/customers/auto_ack.py."""
    follow_up_check_seconds: Annotated[float, Field(gt=0, le=3600)] = 30
    rollup_sweep_seconds: Annotated[float, Field(gt=0, le=86400)] = 300
    signature_channels: list[ChatKind] = []
    """Chat channel kinds whose operator replies get the operator's (else the team's) signature;
    email replies always get it."""

    @field_validator("auto_ack")
    @classmethod
    def _ack_keys(cls, texts: dict[str, str]) -> dict[str, str]:
        for key in texts:
            if key.split(":", 1)[0] not in CHANNELS:
                raise ValueError(f"{key!r}: keys are a channel kind ({', '.join(CHANNELS)}) or kind:name")
        return texts


class StaffMailSettings(SmtpServer):
    """Email to operators and leads (SLA escalations); the SMTP keys mean what they mean for a mailbox."""

    smtp_host: Annotated[str, Field(min_length=1)]
    from_address: str
    from_name: Annotated[str, Field(max_length=200)] = "Lines"
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 5.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 900.0
    poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 2.0

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_email_address(value)

    @field_validator("from_name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(c in value for c in "\r\n"):
            raise ValueError("must be one line")
        return value


class NotificationsSettings(_Section):
    """How Lines tells its staff about things outside the console; each block is off when absent."""

    email: StaffMailSettings | None = None


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    bus: BusSettings = BusSettings()
    auth: AuthSettings = AuthSettings()
    outbox: OutboxSettings = OutboxSettings()
    console: ConsoleSettings = ConsoleSettings()
    channels: ChannelsSettings = ChannelsSettings()
    routing: RoutingSettings = RoutingSettings()
    sla: SlaSettings = SlaSettings()
    bot: BotSettings = BotSettings()
    customers: CustomersSettings = CustomersSettings()
    notifications: NotificationsSettings = NotificationsSettings()

    @property
    def data_path(self) -> Path:
        return Path(self.storage.data_dir).expanduser().resolve()

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite+aiosqlite:///{self.data_path / 'lines.db'}"

    def channel_teams(self) -> dict[tuple[str, str], str]:
        """The team each configured channel (kind, name) sends its new conversations to."""
        return {
            (kind, getattr(block, entry.key)): block.team
            for kind, entry in CHANNELS.items()
            for block in self.channels.blocks(kind)
            if block.team
        }

    def channel_time_zones(self) -> dict[tuple[str, str], str]:
        """The time zone each channel block (web-chat site, mailbox) shows customers times in, where configured."""
        return {
            (kind, getattr(block, entry.key)): block.time_zone
            for kind, entry in CHANNELS.items()
            for block in self.channels.blocks(kind)
            if getattr(block, "time_zone", None)
        }

    def webchat_site(self, site_key: str) -> Any:
        """The `[[channels.webchat]]` block with this `site_key`, or None."""
        return next((s for s in self.channels.blocks("webchat") if s.site_key == site_key), None)


def expand_env(value: Any, env: Mapping[str, str], path: str = "") -> Any:
    """Replace `${NAME}` and `${NAME:-default}` in every string of a parsed TOML tree."""
    if isinstance(value, dict):
        return {k: expand_env(v, env, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{path}: environment variable {name} is not set")

    return ENV_REF.sub(substitute, value)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_settings(raw: Mapping[str, Any], env: Mapping[str, str], source: str = "config") -> Settings:
    """Validate a parsed config tree with environment overrides applied."""
    tree = expand_env(dict(raw), env)
    storage = dict(tree.get("storage", {}))
    if env.get("LINES_DATABASE_URL"):
        storage["database_url"] = env["LINES_DATABASE_URL"]
    if env.get("LINES_DATA_DIR"):
        storage["data_dir"] = env["LINES_DATA_DIR"]
    tree["storage"] = storage
    if env.get("LINES_REDIS_URL"):
        tree["bus"] = {**tree.get("bus", {}), "redis_url": env["LINES_REDIS_URL"]}
    try:
        return Settings.model_validate(tree)
    except ValidationError as err:
        problems = "; ".join(f"{_format_loc(e['loc'])}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{source}: {problems}") from err


def default_config_text() -> str:
    return resources.files("lines.config").joinpath("lines.toml").read_text(encoding="utf-8")


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load the config file (`--config`, `LINES_CONFIG`, `./config/lines.toml` or the packaged default)."""
    env = os.environ if env is None else env
    chosen = path or env.get("LINES_CONFIG")
    if chosen:
        file = Path(chosen)
        if not file.is_file():
            raise ConfigError(f"{file}: no such config file")
        text, source = file.read_text(encoding="utf-8"), str(file)
    elif DEFAULT_CONFIG_PATH.is_file():
        text, source = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"), str(DEFAULT_CONFIG_PATH)
    else:
        text, source = default_config_text(), "lines.toml (packaged default)"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from err
    return parse_settings(raw, env, source)


def ensure_secret_key(settings: Settings) -> Settings:
    """Use the configured secret, or one generated once and kept in the data directory."""
    if settings.server.secret_key.get_secret_value():
        return settings
    settings.data_path.mkdir(parents=True, exist_ok=True)
    key_file = settings.data_path / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    key = key_file.read_text().strip()
    server = settings.server.model_copy(update={"secret_key": SecretStr(key)})
    return settings.model_copy(update={"server": server})
