"""Kannel for real on loopback: bearerbox + smsbox with the fake SMSC, fakesmsc as the phone side.

MO: fakesmsc --TCP--> bearerbox (smsc = fake) --> smsbox --get-url--> Lines' inbound webhook.
MT: Lines --sendsms--> smsbox --> bearerbox --> fakesmsc ("Got message N: <from to coding data>");
the fake SMSC acknowledges (report type 8) and reports delivery (type 1) to the dlr-url.
Private configuration and logs live in a tmp dir; every port is a free one picked at start.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote_to_bytes

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SECRET = "kannel-inbound-secret"
GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> bool:
    return all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX, FAKESMSC))


@dataclass(frozen=True)
class Received:
    """One message part fakesmsc received: `coding` is `text`, `ucs-2` or `data`."""

    sender: str
    receiver: str
    coding: str
    data: str

    @property
    def text(self) -> str:
        raw = unquote_to_bytes(self.data.replace("+", "%20"))  # fakesmsc writes a space byte as +
        return raw.decode("utf-16-be") if self.coding == "ucs-2" else raw.decode("latin-1")


@dataclass
class Kannel:
    workdir: Path
    lines_port: int
    name: str = "kannel"
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    phone: subprocess.Popen[bytes] | None = None

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def gateway(self, **overrides: object) -> dict[str, object]:
        """The `[[channels.sms]]` block for Lines."""
        return {
            "name": self.name,
            "provider": "kannel",
            "number": "1000",
            "default_region": "RU",
            "team": "support",
            "sendsms_url": self.sendsms_url,
            "username": "lines",
            "password": "lines-pass",
            "inbound_secret": SECRET,
            **overrides,
        }

    def _config(self) -> str:
        p, w = self.ports, self.workdir
        get_url = (
            f"http://127.0.0.1:{self.lines_port}/channels/sms/{self.name}/inbound?secret={SECRET}"
            "&id=%I&from=%p&to=%P&text=%a&coding=%c&charset=%C"
        )
        return f"""
group = core
admin-port = {p["admin"]}
admin-interface = 127.0.0.1
admin-password = admin-{SECRET}
admin-allow-ip = 127.0.0.1
smsbox-port = {p["smsbox"]}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{w}/bearerbox.log"
log-level = 1
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = fake
port = {p["smsc"]}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {p["sendsms"]}
sendsms-interface = 127.0.0.1
log-file = "{w}/smsbox.log"
log-level = 1
http-request-retry = 30
http-queue-delay = 1

group = sendsms-user
username = lines
password = lines-pass
user-allow-ip = 127.0.0.1
max-messages = 10
concatenation = true

group = sms-service
keyword = default
get-url = "{get_url}"
max-messages = 0
catch-all = true
"""

    async def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {k: free_port() for k in ("admin", "smsbox", "smsc", "sendsms")}
        conf = self.workdir / "kannel.conf"
        conf.write_text(self._config())
        self._spawn([BEARERBOX, "-v", "4", str(conf)], "bearerbox.out")
        await self._wait_port(self.ports["smsbox"])
        self._spawn([SMSBOX, "-v", "4", str(conf)], "smsbox.out")
        await self._wait_port(self.ports["sendsms"])

    def _spawn(self, argv: list[str], out: str) -> subprocess.Popen[bytes]:
        log = open(self.workdir / out, "wb")  # noqa: SIM115 - the process owns it until it ends
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        self.procs.append(proc)
        return proc

    async def _wait_port(self, port: int, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                if loop.time() > deadline:
                    raise AssertionError(f"Kannel did not open port {port}; see {self.workdir}") from None
                await asyncio.sleep(0.1)

    def send_from_phone(self, *messages: str) -> None:
        """Start the phone side (fakesmsc) sending `messages` ("sender receiver type data"); it stays
        connected afterwards and records what Kannel sends to the phone."""
        if self.phone is not None:
            self.phone.terminate()
            self.phone.wait(5)
        count = str(len(messages)) if messages else "0"
        argv = [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["smsc"]), "-i", "0.2", "-m", count, *messages]
        if not messages:
            argv.append("0 0 text nothing")
        self.phone = self._spawn(argv, "fakesmsc.out")

    def received(self) -> list[Received]:
        """What the phone has got so far, in order."""
        path = self.workdir / "fakesmsc.out"
        if not path.exists():
            return []
        text = path.read_text(errors="replace")
        return [Received(*m.groups()) for m in GOT.finditer(text)]

    async def stop(self) -> None:
        for proc in reversed([*self.procs]):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.to_thread(proc.wait, 10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        """The tail of every process's output and Kannel's own logs, for a failed test's report."""
        files = sorted([*self.workdir.glob("*.out"), *self.workdir.glob("*.log")])
        return "\n".join(f"--- {p.name}\n" + p.read_text(errors="replace")[-3000:] for p in files)


__all__ = ["Kannel", "Received", "available", "free_port"]
