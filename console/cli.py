"""The `lines` command: serve, demo, db upgrade, user add."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from lines.console.app import create_app
from lines.console.db import create_engine, is_sqlite, session_maker
from lines.console.demo import seed_demo, with_demo_site
from lines.console.features import COMMANDS
from lines.console.migrate import upgrade
from lines.console.models import Role
from lines.console.settings import ConfigError, Settings, ensure_secret_key, load_settings
from lines.console.users import UserError, add_user

log = logging.getLogger("lines")


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url, settings.storage.database_schema)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    settings.data_path.mkdir(parents=True, exist_ok=True)
    return ensure_secret_key(settings)


def _run(settings: Settings, host: str, port: int, reuse_port: bool = False, demo: bool = False) -> None:
    web.run_app(
        create_app(settings, demo=demo),
        host=host,
        port=port,
        reuse_port=reuse_port or None,
        access_log=None,
        print=None,
        handle_signals=True,
        shutdown_timeout=10,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    if args.workers > 1:
        if is_sqlite(settings.database_url) or not settings.bus.redis_url:
            raise ConfigError("--workers > 1 needs PostgreSQL and Redis: set LINES_DATABASE_URL and LINES_REDIS_URL")
        if not args.no_migrate:
            asyncio.run(_migrate(settings))
        return _supervise(args, host, port)
    if not args.no_migrate:
        asyncio.run(_migrate(settings))
    log.info("Lines serving on http://%s:%s", host, port)
    _run(settings, host, port, reuse_port=args.reuse_port)
    return 0


def _supervise(args: argparse.Namespace, host: str, port: int) -> int:
    """Start N worker processes sharing the port (SO_REUSEPORT); stop them all on a signal."""
    command = [
        sys.executable,
        "-m",
        "lines.console.cli",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
        "--reuse-port",
        "--no-migrate",
    ]
    if args.config:
        command += ["--config", args.config]
    children = [subprocess.Popen(command) for _ in range(args.workers)]  # noqa: S603 - our own command
    log.info("Lines serving on http://%s:%s with %d workers", host, port, args.workers)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes)


def cmd_demo(args: argparse.Namespace) -> int:
    if args.data_dir:
        os.environ["LINES_DATA_DIR"] = str(Path(args.data_dir).resolve())
    elif "LINES_DATA_DIR" not in os.environ:
        os.environ["LINES_DATA_DIR"] = str(Path("data/demo").resolve())
    settings = with_demo_site(_settings(args), os.environ)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    asyncio.run(_migrate(settings))
    asyncio.run(seed_demo(settings))
    base = f"http://{host}:{port}"
    print(
        f"""
Lines demo is starting (data in {settings.data_path})

  Operator console   {base}/
  Demo shop + chat   {base}/demo
  API (OpenAPI)      {base}/api/openapi.json

  Logins (password "demo"): admin (admin), lead (team lead), anna (support), boris (sales)

Open the shop, write in the chat bubble, and answer as anna in the console. Ctrl+C stops.
""",
        flush=True,
    )
    _run(settings, host, port, demo=True)
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    asyncio.run(_migrate(settings))
    print(f"database is up to date ({_redact(settings.database_url)})")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_user_add(args: argparse.Namespace) -> int:
    settings = _settings(args)

    async def run() -> str:
        await _migrate(settings)
        engine = create_engine(settings.database_url, settings.storage.database_schema)
        try:
            return await add_user(
                session_maker(engine),
                args.login,
                args.password,
                Role(args.role),
                args.team or [],
                args.name,
                email=args.email,
            )
        finally:
            await engine.dispose()

    print(asyncio.run(run()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lines", description="Lines: the omnichannel operator console")
    parser.add_argument("--log-level", default=os.environ.get("LINES_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--config", help="config file (default: $LINES_CONFIG or config/lines.toml)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (needs PostgreSQL + Redis)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--no-migrate", action="store_true", help="do not run `db upgrade` first")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="run the demo with sample users, teams and the /demo shop")
    demo.add_argument("--config")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--data-dir", help="where the demo keeps its SQLite file and attachments")
    demo.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_up = db_sub.add_parser("upgrade", help="apply the Alembic migrations")
    db_up.add_argument("--config")
    db_up.set_defaults(func=cmd_db_upgrade)

    user = sub.add_parser("user", help="operators and their roles")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add an operator, lead or admin (or update an existing one)")
    add.add_argument("login")
    add.add_argument("--password", required=True)
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR.value)
    add.add_argument("--team", action="append", help="team name; repeat for several")
    add.add_argument("--name", help="display name (default: the login)")
    add.add_argument("--email", help="where SLA escalation mail goes (docs/sla.md)")
    add.add_argument("--config")
    add.set_defaults(func=cmd_user_add)

    for add_commands in COMMANDS:
        add_commands(sub, _settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (ConfigError, UserError) as err:
        print(f"lines: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
