"""The `lines` command: user add, db upgrade, and the errors an admin sees.

`main()` runs its own event loop (`asyncio.run`), so these tests are synchronous.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import selectinload

from lines.console.cli import main
from lines.console.db import create_engine, session_maker
from lines.console.models import Operator, Team
from lines.console.passwords import verify_password
from tests.conftest import need


@dataclass(frozen=True)
class Cli:
    url: str
    schema: str
    config: Path
    capsys: pytest.CaptureFixture[str]

    def run(self, *args: str) -> tuple[int, str, str]:
        """Run `lines <args> --config <test config>`; return the exit code, stdout and stderr."""
        self.capsys.readouterr()
        code = main([*args, "--config", str(self.config)])
        out, err = self.capsys.readouterr()
        return code, out, err

    def operators(self) -> dict[str, Operator]:
        async def fetch() -> dict[str, Operator]:
            engine = create_engine(self.url, self.schema)
            try:
                async with session_maker(engine)() as session:
                    rows = await session.scalars(select(Operator).options(selectinload(Operator.teams)))
                    return {o.login: o for o in rows}
            finally:
                await engine.dispose()

        return asyncio.run(fetch())

    def teams(self) -> list[str]:
        async def fetch() -> list[str]:
            engine = create_engine(self.url, self.schema)
            try:
                async with session_maker(engine)() as session:
                    return list(await session.scalars(select(Team.name).order_by(Team.name)))
            finally:
                await engine.dispose()

        return asyncio.run(fetch())


async def _schema(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cli(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """`lines` against an empty database in LINES_DATABASE_URL, with LINES_DATA_DIR in tmp_path."""
    schema = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    else:
        url = need("LINES_TEST_DATABASE_URL", "PostgreSQL")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        asyncio.run(_schema(url, f'CREATE SCHEMA "{schema}"'))
    config = tmp_path / "lines.toml"
    config.write_text(f'[storage]\ndatabase_schema = "{schema}"\n', encoding="utf-8")
    for name in ("LINES_CONFIG", "LINES_REDIS_URL", "LINES_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LINES_DATABASE_URL", url)
    monkeypatch.setenv("LINES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    yield Cli(url, schema, config, capsys)
    if schema:
        asyncio.run(_schema(url, f'DROP SCHEMA "{schema}" CASCADE'))


def test_user_add_creates_an_operator_in_teams(cli: Cli) -> None:
    code, out, err = cli.run("user", "add", "anna", "--password", "s3cret", "--team", "support", "--name", "Anna")
    assert (code, err) == (0, "")
    assert out.strip() == "created operator anna in support"
    anna = cli.operators()["anna"]
    assert anna.role == "operator"
    assert anna.name == "Anna"
    assert [t.name for t in anna.teams] == ["support"]
    assert asyncio.run(verify_password(anna.password_hash, "s3cret"))
    assert "s3cret" not in anna.password_hash


def test_user_add_again_updates_password_role_and_teams(cli: Cli) -> None:
    assert cli.run("user", "add", "lena", "--password", "first", "--team", "support")[0] == 0
    code, out, _ = cli.run(
        "user", "add", "lena", "--password", "second", "--role", "lead", "--team", "support", "--team", "sales"
    )
    assert code == 0
    assert out.strip() == "updated lead lena in support, sales"
    lena = cli.operators()["lena"]
    assert lena.role == "lead"
    assert sorted(t.name for t in lena.teams) == ["sales", "support"]
    assert asyncio.run(verify_password(lena.password_hash, "second"))
    assert not asyncio.run(verify_password(lena.password_hash, "first"))
    assert cli.teams() == ["sales", "support"]
    assert len(cli.operators()) == 1


def test_user_add_sets_and_keeps_the_email_address(cli: Cli) -> None:
    assert cli.run("user", "add", "lena", "--password", "first", "--email", "lena@shop.example")[0] == 0
    assert cli.operators()["lena"].email == "lena@shop.example"
    assert cli.run("user", "add", "lena", "--password", "second")[0] == 0  # no --email: unchanged
    assert cli.operators()["lena"].email == "lena@shop.example"


def test_user_add_an_admin_without_teams(cli: Cli) -> None:
    code, out, _ = cli.run("user", "add", "root", "--password", "long-enough", "--role", "admin")
    assert code == 0 and out.strip() == "created admin root"
    assert cli.operators()["root"].teams == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["Bad Login!", "--password", "s3cret"], "lines: login 'Bad Login!': use 1-64 lowercase letters"),
        (["anna", "--password", "abc"], "lines: password: at least 4 characters"),
        (["anna", "--password", "s3cret", "--team", "Support Team"], "lines: team 'Support Team': use 1-64"),
        (
            ["anna", "--password", "s3cret", "--email", "anna at shop"],
            "lines: email: 'anna at shop' is not an email address like name@example.com",
        ),
    ],
)
def test_user_add_refuses_bad_input_clearly(cli: Cli, args: list[str], expected: str) -> None:
    code, out, err = cli.run("user", "add", *args)
    assert code == 2
    assert out == ""
    assert err.startswith(expected)
    assert "Traceback" not in err
    assert cli.operators() == {}


def test_user_add_refuses_an_unknown_role(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.run("user", "add", "anna", "--password", "s3cret", "--role", "boss")
    assert exit_.value.code == 2
    assert "invalid choice: 'boss'" in cli.capsys.readouterr().err


def test_db_upgrade_creates_the_schema_and_can_run_again(cli: Cli) -> None:
    for _ in range(2):
        code, out, _ = cli.run("db", "upgrade")
        assert code == 0
        assert out.startswith("database is up to date (")
    assert cli.operators() == {}


def test_a_config_error_names_the_key(cli: Cli) -> None:
    cli.config.write_text("[server]\nport = 0\n", encoding="utf-8")
    code, out, err = cli.run("db", "upgrade")
    assert (code, out) == (2, "")
    assert "server.port: Input should be greater than or equal to 1" in err
    assert "Traceback" not in err


def test_serve_with_workers_needs_postgresql_and_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINES_CONFIG", raising=False)
    monkeypatch.setenv("LINES_DATA_DIR", str(tmp_path / "data"))
    cases = [
        ("", ""),  # embedded: SQLite, no Redis
        ("", "redis://127.0.0.1:1/0"),  # SQLite with Redis
        ("postgresql+asyncpg://u@127.0.0.1:1/x", ""),  # PostgreSQL without Redis
    ]
    for database_url, redis_url in cases:
        monkeypatch.setenv("LINES_DATABASE_URL", database_url)
        monkeypatch.setenv("LINES_REDIS_URL", redis_url)
        assert main(["serve", "--workers", "2"]) == 2
        err = capsys.readouterr().err
        assert "--workers > 1 needs PostgreSQL and Redis: set LINES_DATABASE_URL and LINES_REDIS_URL" in err


def test_user_add_creates_a_missing_data_directory_when_the_secret_comes_from_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "fresh" / "data"
    config = tmp_path / "lines.toml"
    config.write_text(f'[server]\nsecret_key = "from-config-0123456789"\n[storage]\ndata_dir = "{data}"\n')
    for variable in ("LINES_DATABASE_URL", "LINES_DATA_DIR", "LINES_REDIS_URL", "LINES_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["user", "add", "vera", "--password", "secret", "--config", str(config)]) == 0
    assert "created operator vera" in capsys.readouterr().out
    assert (data / "lines.db").is_file()
