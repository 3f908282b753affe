"""Email ingest: N mixed emails in a Dovecot mailbox -> stored conversations; emails/s and peak RSS.

    .venv/bin/python benchmarks/email_ingest.py --n 1000 --runs 3
    .venv/bin/python benchmarks/email_ingest.py --n 1000 --runs 3 --django-helpdesk

Each run starts a private Dovecot on a free loopback port (tests/channels/email/servers.py), fills a
fresh mailbox with the same N deterministic emails (seed 42: Russian and English, UTF-8 / KOI8-R /
windows-1251, QP or base64, ~30% replies with In-Reply-To/References, ~15% attachments, ~20% HTML;
the generator of /work/shared/peers/gen_mail.py), then starts `lines serve` (SQLite, a fresh data
directory) and times it from process start until all N are stored. Peak RSS is the server's VmHWM.

`--django-helpdesk` also runs django-helpdesk's `manage.py get_email` on the same mailbox content
(one run = one full import), installed from PyPI into a benchmark-only venv
(`/tmp/lines-bench-email/venv-dh`, made here; never a dependency of Lines), SQLite, with its
notification mails going to an aiosmtpd sink. Its time includes its startup, like ours.
"""

from __future__ import annotations

import argparse
import email.utils
import imaplib
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.channels.email.servers import Dovecot, free_port, mailbox_toml, start_sink  # noqa: E402

WORK = Path("/tmp/lines-bench-email")
DH_VERSION = "2.6.1"

EN_SUBJ = [
    "Cannot log in to my account", "Invoice for order {n} is wrong", "Delivery delayed",
    "Refund request for order {n}", "How do I change my tariff?", "App crashes on start",
    "Question about pricing", "Password reset link does not work", "Wrong item received",
    "Need a copy of the contract", "Card was charged twice", "Cancel my subscription",
]  # fmt: skip
RU_SUBJ = [
    "Не могу войти в личный кабинет", "Ошибка в счёте по заказу {n}", "Задержка доставки",
    "Возврат денег за заказ {n}", "Как сменить тариф?", "Приложение падает при запуске",
    "Вопрос по стоимости услуг", "Не приходит ссылка для сброса пароля",
    "Привезли не тот товар", "Нужна копия договора", "Списали деньги дважды",
    "Отключите, пожалуйста, подписку",
]  # fmt: skip
EN_BODY = [
    "Hello,\n\nI have a problem with order {n}. I paid on {d} but nothing has happened since.",
    "Hi team,\n\nThe page shows error 500 whenever I try to open my profile. Browser: Firefox.",
    "Good afternoon,\n\nCould you please send me the closing documents for the last quarter?",
    "Hello,\n\nMy parcel tracking number {n} has not been updated for five days.",
]
RU_BODY = [
    "Здравствуйте!\n\nУ меня проблема с заказом {n}. Оплатил {d}, но до сих пор ничего не произошло.",
    "Добрый день,\n\nПри попытке открыть профиль страница выдаёт ошибку 500. Браузер Яндекс.",
    "Добрый день!\n\nПришлите, пожалуйста, закрывающие документы за прошлый квартал.",
    "Здравствуйте,\n\nТрек-номер {n} не обновляется уже пять дней. Где моя посылка?",
]
EN_REPLY = [
    "Any news on this? It is still not fixed.",
    "Forgot to attach the screenshot, sorry.",
    "Thanks, but the problem is back again.",
]
RU_REPLY = [
    "Есть новости? Проблема так и не решена.",
    "Забыл приложить скриншот, извините.",
    "Спасибо, но проблема снова появилась.",
]
FIRST_EN = ["John", "Mary", "Peter", "Linda", "James", "Susan"]
FIRST_RU = ["Иван", "Мария", "Пётр", "Ольга", "Алексей", "Наталья"]
LAST_RU = ["Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева"]
LAST_EN = ["Smith", "Brown", "Taylor", "Wilson", "Clark", "Walker"]


def build(n: int, seed: int = 42, to_addr: str = "support@lines.test") -> list[tuple[int, bytes]]:
    """The same messages as gen_mail.py for a seed (timestamp, raw bytes)."""
    rnd = random.Random(seed)
    base_ts = 1767225600
    customers = []
    for i in range(max(10, n // 5)):
        ru = rnd.random() < 0.5
        name = (
            (rnd.choice(FIRST_RU) + " " + rnd.choice(LAST_RU))
            if ru
            else (rnd.choice(FIRST_EN) + " " + rnd.choice(LAST_EN))
        )
        customers.append((name, f"client{i:05d}@customers.test", ru))
    originals: list[tuple[str, str, tuple[str, str, bool]]] = []
    out = []
    for i in range(n):
        ts = base_ts + i * 37
        is_reply = originals and rnd.random() < 0.3
        msg = EmailMessage()
        if is_reply:
            parent_id, parent_subj, cust = rnd.choice(originals)
            ru = cust[2]
            subject = ("Re: " if not ru or rnd.random() < 0.5 else "RE: ") + parent_subj
            body = rnd.choice(RU_REPLY if ru else EN_REPLY) + "\n\n> " + parent_subj + "\n"
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
        else:
            cust = rnd.choice(customers)
            ru = cust[2]
            num = rnd.randint(10000, 99999)
            d = time.strftime("%d.%m.%Y", time.gmtime(ts))
            subject = rnd.choice(RU_SUBJ if ru else EN_SUBJ).format(n=num)
            body = rnd.choice(RU_BODY if ru else EN_BODY).format(n=num, d=d)
            body += "\n\n--\n" + cust[0] + "\n"
        msgid = f"<gen-{seed}-{i:06d}@customers.test>"
        msg["Message-ID"] = msgid
        msg["Date"] = email.utils.formatdate(ts, localtime=False)
        msg["From"] = email.utils.formataddr((cust[0], cust[1]))
        msg["To"] = to_addr
        msg["Subject"] = subject
        charset = "utf-8"
        if ru:
            r = rnd.random()
            charset = "koi8-r" if r < 0.15 else ("windows-1251" if r < 0.3 else "utf-8")
        cte = "quoted-printable" if charset != "utf-8" or rnd.random() < 0.5 else "base64"
        msg.set_content(body, charset=charset, cte=cte)
        if rnd.random() < 0.2:
            html = "<html><body>" + "".join(f"<p>{line}</p>" for line in body.split("\n") if line) + "</body></html>"
            msg.add_alternative(html, subtype="html", charset="utf-8")
        if rnd.random() < 0.15:
            kind = rnd.choice(["txt", "png", "pdf"])
            size = rnd.randint(2_000, 60_000)
            if kind == "txt":
                data = ("log line " * (size // 9)).encode()
                msg.add_attachment(data, maintype="text", subtype="plain", filename=("журнал.txt" if ru else "log.txt"))
            else:
                data = rnd.randbytes(size)
                main, sub = ("image", "png") if kind == "png" else ("application", "pdf")
                if kind == "png":
                    filename = "скриншот.png" if ru else "screenshot.png"
                else:
                    filename = "договор.pdf" if ru else "contract.pdf"
                msg.add_attachment(data, maintype=main, subtype=sub, filename=filename)
        for k, part in enumerate(msg.walk()):
            if part.is_multipart():
                part.set_boundary(f"=_gen{seed}_{i:06d}_{k}")
        if not is_reply:
            originals.append((msgid, subject, cust))
        out.append((ts, msg.as_bytes(policy=SMTP)))
    return out


def fill(dovecot: Dovecot, user: str, messages: list[tuple[int, bytes]]) -> None:
    client = imaplib.IMAP4("127.0.0.1", dovecot.port)
    client.login(user, dovecot.password)
    try:
        for ts, raw in messages:
            client.append("INBOX", "", imaplib.Time2Internaldate(ts), raw)
    finally:
        client.logout()


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def lines_stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def run_lines(dovecot: Dovecot, n: int, messages: list[tuple[int, bytes]]) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="lines-", dir=WORK))
    user, _ = dovecot.add_user()
    fill(dovecot, user, messages)
    config = work / "lines.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
{mailbox_toml(dovecot, user, dovecot.password, smtp_host="127.0.0.1", smtp_port=9, smtp_tls="none", team="support")}""",
        encoding="utf-8",
    )
    db = work / "lines.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LINES_")},
        "LINES_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "LINES_DATA_DIR": str(work / "data"),
        "LINES_SECRET_KEY": "benchmark-secret-0123456789",
        "LINES_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "lines.console.cli", "serve", "--port", str(free_port()), "--config", str(config)]
    started = time.perf_counter()
    with (work / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    first = None
    try:
        while True:
            count = lines_stored(db)
            if count and first is None:
                first = time.perf_counter()
            if count >= n:
                break
            if process.poll() is not None:
                raise SystemExit(f"lines serve exited: {(work / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.02)
        done = time.perf_counter()
        cpu = psutil.Process(process.pid).cpu_times()
        hwm = vm_hwm_kib(process.pid)
    finally:
        process.terminate()
        process.wait(15)
    with sqlite3.connect(db) as conn:
        conversations = conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
        bad = conn.execute("SELECT count(*) FROM messages WHERE instr(text, char(65533)) > 0").fetchone()[0]
    assert first is not None
    return {
        "wall_s": done - started,
        "emails_per_s": n / (done - started),
        "steady_emails_per_s": (n - 1) / max(done - first, 1e-9),
        "cpu_ms_per_email": (cpu.user + cpu.system) * 1000 / n,
        "peak_rss_mib": hwm / 1024,
        "conversations": conversations,
        "replacement_chars": bad,
    }


DH_SETTINGS = """
import os
BASE = {base!r}
SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
    "django.contrib.sites", "django.contrib.humanize", "rest_framework", "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchsite.urls"
TEMPLATES = [{{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
    "OPTIONS": {{"context_processors": ["django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth", "django.contrib.messages.context_processors.messages"]}}}}]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DH_DB"]}}}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
SITE_ID = 1
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = os.path.join(BASE, "media")
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["DH_SMTP_PORT"])
DEFAULT_FROM_EMAIL = "support@helpdesk.test"
HELPDESK_TEAMS_MODE_ENABLED = False
"""
DH_MANAGE = """import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""


def django_helpdesk_ready() -> tuple[Path, Path]:
    venv, site = WORK / "venv-dh", WORK / "dh"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    check = subprocess.run([str(python), "-c", "import helpdesk"], capture_output=True)
    if check.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"django-helpdesk=={DH_VERSION}"], check=True)
    (site / "benchsite").mkdir(parents=True, exist_ok=True)
    (site / "benchsite" / "__init__.py").write_text("")
    (site / "benchsite" / "settings.py").write_text(DH_SETTINGS.format(base=str(site)))
    (site / "benchsite" / "urls.py").write_text(
        "from django.urls import include, path\n"
        'urlpatterns = [path("", include("helpdesk.urls", namespace="helpdesk"))]\n'
    )
    (site / "manage.py").write_text(DH_MANAGE)
    return python, site


def run_django_helpdesk(dovecot: Dovecot, n: int, messages: list[tuple[int, bytes]]) -> dict[str, float]:
    python, site = django_helpdesk_ready()
    user, _ = dovecot.add_user()
    fill(dovecot, user, messages)
    controller, sink = start_sink()
    db = Path(tempfile.mkdtemp(prefix="dh-", dir=WORK)) / "db.sqlite3"
    env = {**os.environ, "DH_DB": str(db), "DH_SMTP_PORT": str(controller.port)}
    manage = [str(python), str(site / "manage.py")]
    try:
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True)
        subprocess.run(
            [
                *manage,
                "shell",
                "-c",
                "from helpdesk.models import Queue; Queue.objects.create(title='Support', slug='support', "
                "email_address='support@helpdesk.test', allow_email_submission=True, email_box_type='imap', "
                f"email_box_host='127.0.0.1', email_box_port={dovecot.port}, email_box_ssl=False, "
                f"email_box_user='{user}', email_box_pass='{dovecot.password}', email_box_imap_folder='INBOX', "
                "email_box_interval=0, logging_type='none', new_ticket_cc='agents@helpdesk.test')",
            ],
            env=env,
            check=True,
        )
        timing = WORK / "dh-time.txt"
        started = time.perf_counter()
        subprocess.run(
            ["/usr/bin/time", "-v", "-o", str(timing), *manage, "get_email", "--quiet"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
    finally:
        controller.stop()
    stats = dict(line.strip().split(": ", 1) for line in timing.read_text().splitlines() if ": " in line)
    cpu = float(stats["User time (seconds)"]) + float(stats["System time (seconds)"])
    with sqlite3.connect(db) as conn:
        tickets = conn.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()[0]
        followups = conn.execute("SELECT count(*) FROM helpdesk_followup").fetchone()[0]
    return {
        "wall_s": wall,
        "emails_per_s": n / wall,
        "cpu_ms_per_email": cpu * 1000 / n,
        "peak_rss_mib": int(stats["Maximum resident set size (kbytes)"]) / 1024,
        "tickets": tickets,
        "followups": followups,
        "smtp_messages": len(sink.messages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--django-helpdesk", action="store_true", help="also run django-helpdesk side by side")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    WORK.chmod(0o755)
    messages = build(args.n)
    dovecot = Dovecot(Path(tempfile.mkdtemp(prefix="dovecot-", dir=WORK)))
    dovecot.work.chmod(0o755)
    dovecot.start()
    results: dict[str, list[dict[str, float]]] = {"lines": [], "django-helpdesk": []}
    try:
        for run in range(args.runs):
            results["lines"].append(run_lines(dovecot, args.n, messages))
            print("lines", run + 1, json.dumps(results["lines"][-1]), flush=True)
            if args.django_helpdesk:
                results["django-helpdesk"].append(run_django_helpdesk(dovecot, args.n, messages))
                print("django-helpdesk", run + 1, json.dumps(results["django-helpdesk"][-1]), flush=True)
    finally:
        dovecot.stop()
    summary = {}
    for name, runs in results.items():
        if runs:
            summary[name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    if len(summary) == 2:
        summary["ratio_emails_per_s"] = summary["lines"]["emails_per_s"] / summary["django-helpdesk"]["emails_per_s"]
    print(json.dumps({"n": args.n, "runs": args.runs, "median": summary}, indent=2))


if __name__ == "__main__":
    main()
