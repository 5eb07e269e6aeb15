"""A throw-away Orthanc for the tests: 127.0.0.1 only, free ports, basic auth, temporary storage.

The server is Debian's ``orthanc`` with the DICOMweb plugin of
``orthanc-dicomweb`` (``scripts/install_test_dependencies.sh`` installs both).
Orthanc 1.10 has no option for the address it listens on and binds its HTTP
and DICOM ports on every interface, so it is started with a small
``LD_PRELOAD`` shim (compiled here with the system C compiler) that turns
every wildcard ``bind`` into a loopback one; :func:`running_orthanc` then
checks in ``/proc/net/tcp*`` that both ports listen on 127.0.0.1 only.
Orthanc runs in its own process group, and the whole group is killed on exit.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

USER = "board"
PASSWORD = "s3cret-Pw!"

_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real = 0;
    if (!real) real = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in copy;
        memcpy(&copy, addr, sizeof copy);
        copy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return real(fd, (const struct sockaddr *)&copy, sizeof copy);
    }
    if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 copy;
        memcpy(&copy, addr, sizeof copy);
        copy.sin6_addr = in6addr_loopback;
        return real(fd, (const struct sockaddr *)&copy, sizeof copy);
    }
    return real(fd, addr, len);
}
"""


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def plugin_path() -> Path:
    """The DICOMweb plugin's shared library, as the Debian package installs it."""
    listed = subprocess.run(
        ["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=False
    ).stdout.split()
    found = [p for p in listed if "DicomWeb" in p and ".so" in p and os.path.isfile(p)]
    found += glob.glob("/usr/share/orthanc/plugins/libOrthancDicomWeb.so*")
    if not found:
        raise RuntimeError(
            "Orthanc's DICOMweb plugin not found: install Debian's 'orthanc-dicomweb' "
            "(scripts/install_test_dependencies.sh does)"
        )
    return Path(sorted(found)[0])


def _orthanc_binary() -> str:
    binary = shutil.which("Orthanc")
    if binary is None and os.path.isfile("/usr/sbin/Orthanc"):
        binary = "/usr/sbin/Orthanc"
    if binary is None:
        raise RuntimeError(
            "Orthanc not found: install Debian's 'orthanc' "
            "(scripts/install_test_dependencies.sh does)"
        )
    return binary


def _shim(folder: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise RuntimeError("a C compiler (gcc) is needed to keep Orthanc on 127.0.0.1")
    source, library = folder / "loopback_bind.c", folder / "loopback_bind.so"
    source.write_text(_SHIM)
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return library


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket LISTENing on ``port`` (from /proc/net/tcp, tcp6)."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8))
                    found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


@dataclass
class OrthancServer:
    """A running Orthanc: where it answers and how to log in."""

    http_port: int
    dicom_port: int
    root: Path
    process: subprocess.Popen[bytes] | None = None
    user: str = USER
    password: str = PASSWORD
    config: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Orthanc's REST root."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        """The DICOMweb root (QIDO-RS, WADO-RS, STOW-RS)."""
        return f"{self.url}/dicom-web"

    def password_file(self, folder: Path, password: str | None = None) -> Path:
        """A file holding the password (or another one), for ``--password-file``."""
        path = folder / f"password-{len(list(folder.glob('password-*')))}"
        path.write_text((self.password if password is None else password) + "\n")
        path.chmod(0o600)
        return path

    def request(
        self, path: str, data: bytes | None = None, content_type: str | None = None
    ) -> bytes:
        """An authenticated request to Orthanc's REST API."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request = urllib.request.Request(self.url + path, data=data)
        request.add_header("Authorization", f"Basic {token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=30) as answer:
            return bytes(answer.read())

    def upload(self, files: list[Path]) -> None:
        """Store DICOM files through the REST API (``POST /instances``)."""
        for path in files:
            self.request("/instances", path.read_bytes(), "application/dicom")

    def instance_count(self) -> int:
        """How many instances Orthanc holds (``/statistics``)."""
        return int(json.loads(self.request("/statistics"))["CountInstances"])

    def start(self) -> None:
        """Start Orthanc (again, on the same ports and storage) and wait for ``/system``."""
        log = open(self.root / "orthanc.log", "ab")  # noqa: SIM115 - closed with the process
        environment = dict(os.environ, LD_PRELOAD=str(self.root / "loopback_bind.so"))
        self.process = subprocess.Popen(
            [_orthanc_binary(), str(self.root / "orthanc.json")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
            cwd=self.root,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                tail = (self.root / "orthanc.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Orthanc stopped at start:\n{tail}")
            try:
                self.request("/system")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("Orthanc did not answer /system within 60 s") from None
                time.sleep(0.1)
        for port in (self.http_port, self.dicom_port):
            addresses = listening_addresses(port)
            if addresses != {"127.0.0.1"}:
                self.stop()
                raise RuntimeError(f"Orthanc listens on {sorted(addresses)} at port {port}")

    def stop(self, *, discard: bool = False) -> None:
        """Stop Orthanc's process group (SIGTERM) and wait for it.

        ``discard``: SIGKILL at once, for a server whose storage is deleted next
        (Orthanc takes about 3.5 s to shut down cleanly on SIGTERM).
        """
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL if discard else signal.SIGTERM)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@contextmanager
def running_orthanc(lua: str | None = None) -> Iterator[OrthancServer]:
    """Start a private Orthanc with the DICOMweb plugin; stop it and delete its files on exit.

    ``lua`` is a Lua script Orthanc runs (e.g. a ``ReceivedInstanceFilter``
    that makes it refuse some objects).
    """
    root = Path(tempfile.mkdtemp(prefix="tb-orthanc-"))
    server = OrthancServer(http_port=free_port(), dicom_port=free_port(), root=root)
    try:
        _shim(root)
        storage = root / "storage"
        storage.mkdir()
        server.config = {
            "Name": "tumorboard-test",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "HttpPort": server.http_port,
            "DicomPort": server.dicom_port,
            "DicomAet": "TBTEST",
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": True,
            "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(plugin_path())],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "SaveJobs": False,
            "HttpThreadsCount": 8,
            "DicomThreadsCount": 1,
            "ConcurrentJobs": 1,
            "StableAge": 1,
        }
        if lua is not None:
            (root / "filter.lua").write_text(lua)
            server.config["LuaScripts"] = [str(root / "filter.lua")]
        (root / "orthanc.json").write_text(json.dumps(server.config, indent=1))
        server.start()
        yield server
    finally:
        server.stop(discard=True)
        shutil.rmtree(root, ignore_errors=True)
