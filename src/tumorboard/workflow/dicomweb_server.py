"""A DICOMweb server as ``tumorboard import --dicomweb`` and ``export --dicomweb`` reach it.

One place for what pull (:mod:`.dicomweb_pull`) and push (:mod:`.dicomweb_push`)
share: the server's address checked and named without credentials
(``host:port``, never a user or password), HTTP basic authentication from a
password file, a :class:`dicomweb_client.DICOMwebClient` with timeouts, and
the translation of every network or HTTP failure into one
:class:`DicomwebError` line that names the host and what failed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tumorboard.errors import InputError, TumorboardError

if TYPE_CHECKING:
    from dicomweb_client import DICOMwebClient

__all__ = [
    "DicomwebError",
    "DicomwebServer",
    "describe_failure",
    "is_uid",
    "read_password_file",
]

#: Seconds to wait for a connection, and for each read of an answer.
CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 300.0

_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


class DicomwebError(TumorboardError):
    """The DICOMweb server could not be reached, refused us, or answered wrongly."""


def is_uid(text: object) -> bool:
    """Whether ``text`` is a DICOM UID (digits and dots, at most 64 characters).

    Examples
    --------
    >>> is_uid("1.2.840.10008.5.1.4.1.1.4"), is_uid("1.02"), is_uid("../x")
    (True, False, False)
    """
    return isinstance(text, str) and 0 < len(text) <= 64 and _UID.match(text) is not None


def read_password_file(path: Path) -> str:
    r"""The password in ``path``: its first line, without the line end.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> secret = pathlib.Path(tempfile.mkdtemp()) / "pw"
    >>> _ = secret.write_text("correct horse\n")
    >>> read_password_file(secret)
    'correct horse'
    """
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
        raise InputError(f"--password-file {os.fspath(path)}: {reason}") from None
    password = first.rstrip("\r\n")
    if not password:
        raise InputError(f"--password-file {os.fspath(path)}: the first line is empty")
    return password


@dataclass(frozen=True)
class DicomwebServer:
    """Where the DICOMweb service is and how to log in.

    Parameters
    ----------
    url : str
        The DICOMweb root, e.g. ``http://pacs:8042/dicom-web`` (http or https;
        no user or password inside).
    user, password : str, optional
        HTTP basic authentication (both or neither).

    Examples
    --------
    >>> server = DicomwebServer.from_options("http://127.0.0.1:8042/dicom-web", "u", None)
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: --user needs --password-file (and the other way round)
    >>> DicomwebServer.from_options("https://pacs.example/dicom-web", None, None).host
    'pacs.example'
    """

    url: str
    user: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError("--dicomweb: expected an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            raise InputError(
                "--dicomweb: give the user with --user and the password with --password-file, "
                "not inside the URL"
            )
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise InputError("--dicomweb: the port of the URL is not a number") from None
        if (self.user is None) != (self.password is None):
            raise InputError("--user needs --password-file (and the other way round)")

    @classmethod
    def from_options(cls, url: str, user: str | None, password_file: Path | None) -> DicomwebServer:
        """The server of the command-line options (reads the password file)."""
        if (user is None) != (password_file is None):
            raise InputError("--user needs --password-file (and the other way round)")
        password = read_password_file(password_file) if password_file is not None else None
        return cls(url.rstrip("/"), user, password)

    @property
    def host(self) -> str:
        """``host`` or ``host:port``: how messages name the server."""
        parts = urlsplit(self.url)
        hostname = parts.hostname or "?"
        if ":" in hostname:
            hostname = f"[{hostname}]"
        return f"{hostname}:{parts.port}" if parts.port else hostname

    def __repr__(self) -> str:
        return f"DicomwebServer(host={self.host!r}, user={'set' if self.user else None})"

    def client(self) -> DICOMwebClient:
        """A :class:`dicomweb_client.DICOMwebClient` for this server."""
        from dicomweb_client import DICOMwebClient
        from dicomweb_client.session_utils import create_session, create_session_from_user_pass

        if self.user is not None and self.password is not None:
            session = create_session_from_user_pass(self.user, self.password)
        else:
            session = create_session()
        client = DICOMwebClient(
            self.url, session=session, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        )
        client.set_http_retry_params(retry=False)
        return client


def describe_failure(server: DicomwebServer, exc: BaseException, doing: str) -> DicomwebError:
    """One line for a failed request: the host, what was being done, and why.

    Never contains the URL's path, the user or the password.

    Examples
    --------
    >>> import requests
    >>> server = DicomwebServer("http://127.0.0.1:9/dicom-web")
    >>> str(describe_failure(server, requests.exceptions.ConnectionError("x"), "searching"))
    'DICOMweb server 127.0.0.1:9: cannot connect while searching (server down or wrong address)'
    """
    import requests

    where = f"DICOMweb server {server.host}"
    if isinstance(exc, requests.exceptions.HTTPError):
        status = _status(exc.response)
        if status in (401, 403):
            return DicomwebError(
                f"{where}: the user name or password was refused (HTTP {status}) while {doing}"
            )
        if status == 404:
            return DicomwebError(f"{where}: not found (HTTP 404) while {doing}")
        return DicomwebError(f"{where}: answered HTTP {status} while {doing}")
    if isinstance(exc, requests.exceptions.Timeout):
        return DicomwebError(f"{where}: no answer in time while {doing}")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return DicomwebError(f"{where}: the connection was cut while {doing}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _answered_before(exc):
            return DicomwebError(f"{where}: the connection was cut while {doing}")
        return DicomwebError(
            f"{where}: cannot connect while {doing} (server down or wrong address)"
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return DicomwebError(f"{where}: request failed while {doing} ({type(exc).__name__})")
    return DicomwebError(f"{where}: unusable answer while {doing} ({type(exc).__name__})")


def _status(response: Any) -> int | str:
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else "error"


def _answered_before(exc: BaseException) -> bool:
    """Whether a connection error came after the server had started answering."""
    text = repr(exc.args)
    return any(
        marker in text
        for marker in ("RemoteDisconnected", "IncompleteRead", "Connection broken", "reset by peer")
    )
