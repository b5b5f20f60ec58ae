"""A network guard for the privacy tests: refuse and record every connection off the machine.

Kakehashi promises that nothing leaves the machine except calls to the LLM
endpoint an operator configured. Proving a negative needs a recorder that
would certainly have seen the positive, so this guard sits at every level a
Python program can reach the network from:

- ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` (TCP and UDP, the
  methods asyncio's default loop, http.client, urllib3 and httpx all end in);
- ``socket.create_connection`` (so the *host name* asked for is recorded, not
  only the address it would have resolved to);
- ``socket.getaddrinfo`` / ``gethostbyname`` for any name that is not local
  (a DNS lookup is already a message to the outside);
- a ``sys.addaudithook`` hook on the interpreter's own ``socket.*`` audit
  events, which also catches C-level calls on sockets that bypass the
  patched Python methods.

Loopback (127.0.0.0/8, ::1, ``localhost``) and Unix sockets are let through:
the app, the test's gradio_client and the scripted LLM server all live there.
Everything else is refused *before* a packet is sent (``ConnectionRefusedError``
or ``socket.gaierror``) and recorded, so a test never depends on the network
and can assert which destinations were attempted (none, or only the
configured LLM endpoint).

Not covered, and covered elsewhere: native code with its own sockets (uvloop's
libuv, a Rust HTTP client). The in-process tests run the app on asyncio's
loop for that reason, and ``tests/test_privacy.py`` also traces the
``connect`` system calls of a child process with strace when it is installed.

``tests/netguard_site/sitecustomize.py`` installs this guard in every Python
child process (set ``PYTHONPATH`` to that folder and ``NETGUARD_LOG`` to a
file): attempts are appended there as JSON lines, one per attempt.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sys
import threading
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LOCAL_NAMES = {"", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
REFUSED = "netguard: connection off the machine refused"


@dataclass
class Attempt:
    """One refused attempt to reach something that is not this machine."""

    kind: str  # connect | connect_ex | sendto | create_connection | getaddrinfo | gethostbyname | audit:<event>
    target: str  # "host:port" or a name
    pid: int = field(default_factory=os.getpid)
    stack: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_local_host(host: Any) -> bool:
    """True for loopback addresses, local names and the unspecified address (which means "this host")."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip().strip("[]").lower()
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name we would have to ask DNS about
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_loopback or ip.is_unspecified


def is_local_address(address: Any) -> bool:
    """True for a socket address that stays on the machine (loopback, or a Unix socket path)."""
    if isinstance(address, (str, bytes)):  # AF_UNIX path or abstract name
        return True
    if isinstance(address, tuple) and address:
        return is_local_host(address[0])
    return False  # unknown address families: record them rather than guess


def describe(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return repr(address)


class NetGuard:
    """Install with ``with NetGuard() as guard:``; then ``guard.attempts`` lists what was refused.

    Only one guard is active at a time (the patches are process-wide, like the
    network itself); threads started by the code under test are covered too.
    """

    _active: "NetGuard | None" = None
    _audit_installed = False
    _lock = threading.Lock()

    def __init__(self, log_path: Path | str | None = None) -> None:
        self.log_path = Path(log_path) if log_path else None
        self.attempts: list[Attempt] = []
        self._saved: dict[tuple[Any, str], Any] = {}
        self._record_lock = threading.Lock()

    # ------------------------------------------------------------------ recording
    def record(self, kind: str, target: str) -> None:
        stack = "".join(traceback.format_stack(limit=14)[:-2])
        attempt = Attempt(kind=kind, target=target, stack=stack)
        with self._record_lock:
            self.attempts.append(attempt)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(attempt.as_dict(), ensure_ascii=False) + "\n")

    def targets(self) -> list[str]:
        return [a.target for a in self.attempts]

    def report(self) -> str:
        """The attempts with where they came from, for an assertion message."""
        return "\n".join(f"{a.kind} → {a.target} (pid {a.pid})\n{a.stack}" for a in self.attempts) or "none"

    # ------------------------------------------------------------------ install
    def install(self) -> "NetGuard":
        with NetGuard._lock:
            if NetGuard._active is not None:
                raise RuntimeError("a NetGuard is already installed in this process")
            NetGuard._active = self
            if not NetGuard._audit_installed:
                sys.addaudithook(_audit_hook)  # cannot be removed; it does nothing without an active guard
                NetGuard._audit_installed = True
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_sendto = socket.socket.sendto
        real_create_connection = socket.create_connection
        real_getaddrinfo = socket.getaddrinfo
        real_gethostbyname = socket.gethostbyname

        def connect(sock: socket.socket, address: Any) -> None:
            if not is_local_address(address):
                guard.record("connect", describe(address))
                raise ConnectionRefusedError(errno.ECONNREFUSED, f"{REFUSED}: {describe(address)}")
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if not is_local_address(address):
                guard.record("connect_ex", describe(address))
                return errno.ECONNREFUSED
            return real_connect_ex(sock, address)

        def sendto(sock: socket.socket, data: Any, *args: Any) -> int:
            address = args[-1] if args else None
            if address is not None and not is_local_address(address):
                guard.record("sendto", describe(address))
                raise ConnectionRefusedError(errno.ECONNREFUSED, f"{REFUSED}: {describe(address)}")
            return real_sendto(sock, data, *args)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            if not is_local_address(address):
                guard.record("create_connection", describe(address))
                raise ConnectionRefusedError(errno.ECONNREFUSED, f"{REFUSED}: {describe(address)}")
            return real_create_connection(address, *args, **kwargs)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list:
            if not _is_local_or_numeric(host):
                guard.record("getaddrinfo", f"{host}:{port}")
                raise socket.gaierror(socket.EAI_NONAME, f"{REFUSED}: no name lookups for {host}")
            return real_getaddrinfo(host, port, *args, **kwargs)

        def gethostbyname(host: str) -> str:
            if not _is_local_or_numeric(host):
                guard.record("gethostbyname", str(host))
                raise socket.gaierror(socket.EAI_NONAME, f"{REFUSED}: no name lookups for {host}")
            return real_gethostbyname(host)

        for owner, name, value in (
            (socket.socket, "connect", connect), (socket.socket, "connect_ex", connect_ex),
            (socket.socket, "sendto", sendto), (socket, "create_connection", create_connection),
            (socket, "getaddrinfo", getaddrinfo), (socket, "gethostbyname", gethostbyname),
        ):
            self._saved[(owner, name)] = owner.__dict__.get(name, _MISSING)
            setattr(owner, name, value)
        return self

    def uninstall(self) -> None:
        for (owner, name), value in self._saved.items():
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._saved.clear()
        with NetGuard._lock:
            if NetGuard._active is self:
                NetGuard._active = None

    def __enter__(self) -> "NetGuard":
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.uninstall()


_MISSING = object()


def _is_local_or_numeric(host: Any) -> bool:
    """Names that need no DNS query: local names and literal addresses (their connect is checked)."""
    if is_local_host(host):
        return True
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


_AUDIT_CONNECT = {"socket.connect", "socket.sendto", "socket.sendmsg"}
_AUDIT_LOOKUP = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"}
_in_hook = threading.local()


def _audit_hook(event: str, args: tuple) -> None:
    """The interpreter's own socket events: the backstop behind the patched methods."""
    guard = NetGuard._active
    if guard is None or getattr(_in_hook, "busy", False):
        return
    if event not in _AUDIT_CONNECT and event not in _AUDIT_LOOKUP:
        return
    _in_hook.busy = True  # recording writes a file; never recurse into ourselves
    try:
        if event in _AUDIT_CONNECT:
            address = args[1] if len(args) > 1 else None
            if address is not None and not is_local_address(address):
                guard.record(f"audit:{event}", describe(address))
                raise ConnectionRefusedError(errno.ECONNREFUSED, f"{REFUSED}: {describe(address)}")
        else:
            host = args[0] if args else None
            if not _is_local_or_numeric(host):
                guard.record(f"audit:{event}", str(host))
                raise socket.gaierror(socket.EAI_NONAME, f"{REFUSED}: no name lookups for {host}")
    finally:
        _in_hook.busy = False


def read_log(path: Path | str) -> list[dict[str, Any]]:
    """The attempts a child process wrote (``NETGUARD_LOG``), oldest first."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
