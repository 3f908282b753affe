"""Configuration: the default file validates; every error names the key and the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lines.console.settings import ConfigError, default_config_text, load_settings, parse_settings

REPO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "lines.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lines.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(raw: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        parse_settings(raw, env or {}, "lines.toml")
    return str(err.value)


def test_the_default_config_validates() -> None:
    settings = load_settings(REPO_CONFIG, env={})
    assert settings.server.port == 8080
    assert settings.bus.redis_url == ""
    assert settings.database_url.startswith("sqlite+aiosqlite:///")


def test_the_shipped_config_offers_no_web_chat_site_so_serve_has_no_demo() -> None:
    assert load_settings(REPO_CONFIG, env={}).channels.webchat == []


def test_the_packaged_default_is_the_repository_file() -> None:
    assert default_config_text() == REPO_CONFIG.read_text(encoding="utf-8")


def test_without_a_file_the_packaged_default_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}).routing.rules_file == "config/routing.json"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"server": {"port": 70000}}, "server.port: Input should be less than or equal to 65535"),
        ({"server": {"port": "http"}}, "server.port: Input should be a valid integer"),
        ({"server": {"prot": 8080}}, "server.prot: Extra inputs are not permitted"),
        ({"serveur": {}}, "serveur: Extra inputs are not permitted"),
        ({"server": {"public_url": "example.com"}}, "server.public_url: Value error, must be an http:// or https://"),
        (
            {"channels": {"webchat": [{"site_key": "demo", "origins": ["shop.example"]}]}},
            "channels.webchat[0].origins: Value error, 'shop.example' is not an origin",
        ),
        (
            {"channels": {"webchat": [{"site_key": "demo", "origins": ["https://shop.example/path"]}]}},
            "channels.webchat[0].origins",
        ),
        (
            {"channels": {"webchat": [{"site_key": "a"}, {"site_key": "b"}, {"site_key": "a"}]}},
            "channels.webchat: Value error, site_key must be unique; repeated: a",
        ),
        ({"channels": {"webchat": [{"site_key": "no spaces"}]}}, "channels.webchat[0].site_key"),
        ({"channels": {"webchat": [{"origins": ["*"]}]}}, "channels.webchat[0].site_key: Field required"),
        ({"bus": {"key_prefix": "Lines:{x}"}}, "bus.key_prefix: String should match pattern"),
        ({"storage": {"database_schema": "drop table"}}, "storage.database_schema"),
        ({"console": {"default_locale": "de"}}, "console.default_locale: Input should be 'en' or 'ru'"),
    ],
)
def test_errors_name_the_key_and_the_problem(raw: dict[str, Any], expected: str) -> None:
    message = error_of(raw)
    assert message.startswith("lines.toml: ")
    assert expected in message


def test_every_problem_is_reported_at_once() -> None:
    message = error_of({"server": {"port": 0, "host": 5}, "auth": {"session_hours": 0}})
    for key in ("server.port", "server.host", "auth.session_hours"):
        assert key in message


def test_a_missing_environment_variable_is_named_with_its_key() -> None:
    raw = {"channels": {"webchat": [{"site_key": "demo", "identity_secret": "${SHOP_SECRET}"}]}}
    message = error_of(raw)
    assert message == "channels.webchat[0].identity_secret: environment variable SHOP_SECRET is not set"


def test_environment_references_are_expanded_with_defaults() -> None:
    raw = {
        "server": {"secret_key": "${KEY}", "public_url": "https://${HOST:-example.org}"},
        "storage": {"data_dir": "${DIR:-/var/lib/lines}"},
    }
    settings = parse_settings(raw, {"KEY": "s3cret", "DIR": "/srv/lines"})
    assert settings.server.secret_key.get_secret_value() == "s3cret"
    assert settings.server.public_url == "https://example.org"
    assert settings.storage.data_dir == "/srv/lines"
    assert "s3cret" not in repr(settings)


def test_invalid_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = \n")
    with pytest.raises(ConfigError, match=r"lines\.toml: not valid TOML: .*line 2"):
        load_settings(path, env={})


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml", env={})


def test_lines_config_picks_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9999\n")
    assert load_settings(env={"LINES_CONFIG": str(path)}).server.port == 9999


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[storage]\ndata_dir = "/from/file"\ndatabase_url = "sqlite+aiosqlite:///file.db"\n'
        '[bus]\nredis_url = "redis://file:6379/0"\n',
    )
    env = {
        "LINES_DATABASE_URL": "postgresql+asyncpg://u@db:5432/lines",
        "LINES_DATA_DIR": str(tmp_path / "data"),
        "LINES_REDIS_URL": "redis://cache:6379/1",
    }
    settings = load_settings(path, env=env)
    assert settings.database_url == "postgresql+asyncpg://u@db:5432/lines"
    assert settings.data_path == tmp_path / "data"
    assert settings.bus.redis_url == "redis://cache:6379/1"
    assert settings.bus.key_prefix == "lines"

    from_file = load_settings(path, env={})
    assert from_file.storage.data_dir == "/from/file"
    assert from_file.bus.redis_url == "redis://file:6379/0"


def test_empty_database_url_means_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = parse_settings({}, {"LINES_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}"


def test_every_channel_kind_names_the_team_of_its_new_conversations() -> None:
    settings = parse_settings(
        {
            "channels": {
                "webchat": [{"site_key": "shop", "team": "sales"}, {"site_key": "blog"}],
                "email": [{"name": "support", "address": "help@shop.example", "imap_host": "imap", "team": "support"}],
                "telegram": [{"name": "bot", "token": "t", "team": "support"}],
                "sms": [{"name": "main", "provider": "kannel", "number": "+79001234567", "team": "sales"}],
            }
        },
        env={},
    )
    assert settings.channel_teams() == {
        ("webchat", "shop"): "sales",
        ("email", "support"): "support",
        ("telegram", "bot"): "support",
        ("sms", "main"): "sales",
    }


STAFF_MAIL = {"smtp_host": "smtp.shop.example", "from_address": "lines@shop.example"}


def test_staff_mail_is_off_unless_configured() -> None:
    assert parse_settings({}, {}).notifications.email is None


def test_staff_mail_takes_the_mailbox_smtp_keys_and_a_password_from_the_environment() -> None:
    raw = {"notifications": {"email": {**STAFF_MAIL, "smtp_tls": "starttls", "smtp_password": "${SMTP_PW}"}}}
    mail = parse_settings(raw, {"SMTP_PW": "pw-from-env"}).notifications.email
    assert mail is not None
    assert (mail.smtp_port, mail.smtp_tls, mail.from_name) == (465, "starttls", "Lines")
    assert mail.smtp_password.get_secret_value() == "pw-from-env"
    assert "pw-from-env" not in repr(mail)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"from_address": "lines@shop.example"}, "notifications.email.smtp_host: Field required"),
        ({**STAFF_MAIL, "smtp_host": ""}, "notifications.email.smtp_host: String should have at least 1 character"),
        ({"smtp_host": "smtp.shop.example"}, "notifications.email.from_address: Field required"),
        (
            {**STAFF_MAIL, "from_address": "Lines <lines@shop.example>"},
            "notifications.email.from_address: Value error, 'Lines <lines@shop.example>' is not an email address",
        ),
        (
            {**STAFF_MAIL, "smtp_tls": "tls"},
            "notifications.email.smtp_tls: Input should be 'ssl', 'starttls' or 'none'",
        ),
        ({**STAFF_MAIL, "smtp_port": 0}, "notifications.email.smtp_port: Input should be greater than or equal to 1"),
        ({**STAFF_MAIL, "from_name": "a\nb"}, "notifications.email.from_name: Value error, must be one line"),
        ({**STAFF_MAIL, "max_attempts": 0}, "notifications.email.max_attempts"),
        ({**STAFF_MAIL, "smtp_server": "x"}, "notifications.email.smtp_server: Extra inputs are not permitted"),
    ],
)
def test_a_bad_staff_mail_block_is_a_clear_config_error(block: dict[str, Any], expected: str) -> None:
    message = error_of({"notifications": {"email": block}})
    assert message.startswith("lines.toml: ")
    assert expected in message


def test_a_missing_smtp_password_variable_is_named_with_its_key() -> None:
    raw = {"notifications": {"email": {**STAFF_MAIL, "smtp_password": "${LINES_SMTP_PASSWORD}"}}}
    assert error_of(raw) == "notifications.email.smtp_password: environment variable LINES_SMTP_PASSWORD is not set"
