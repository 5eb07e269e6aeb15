"""A TCP proxy on 127.0.0.1 that cuts the connection in the middle of an HTTP POST.

Everything is forwarded to the target port unchanged until the client has
sent the ``cut_post``-th POST request line and ``after_bytes`` bytes after
it; then both sides of that connection are reset, so the server never
receives the rest of the request and the client sees a connection cut in the
middle of its upload. Threads end when their sockets close; :meth:`stop`
closes everything.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CuttingProxy:
    """Forward 127.0.0.1:``port`` to 127.0.0.1:``target_port``, cutting one POST."""

    def __init__(self, target_port: int, cut_post: int, after_bytes: int = 65536) -> None:
        self.target_port = target_port
        self.cut_post = cut_post
        self.after_bytes = after_bytes
        self.posts = 0
        self.cut = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(60)
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._upload, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._download, args=(upstream, client), daemon=True).start()

    def _upload(self, client: socket.socket, upstream: socket.socket) -> None:
        counting = -1  # bytes forwarded since the POST to cut began (-1: not started)
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if counting < 0:
                    with self._lock:
                        self.posts += data.count(b"POST /")
                        if self.posts >= self.cut_post and not self.cut:
                            counting = 0
                if counting >= 0:
                    room = self.after_bytes - counting
                    if len(data) >= room:
                        upstream.sendall(data[:room])
                        self._reset(client, upstream)
                        return
                    counting += len(data)
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _download(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)

    def _reset(self, *sockets: socket.socket) -> None:
        self.cut = True
        for sock in sockets:
            try:  # SO_LINGER 0: close with a reset, as a cable pulled out
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            _close(sock)

    def stop(self) -> None:
        """Close the listener and every forwarded connection."""
        self._stopped.set()
        self._thread.join(timeout=10)
        _close(self._listener)
        with self._lock:
            for sock in self._sockets:
                _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


@contextmanager
def cutting_proxy(
    target_port: int, cut_post: int, after_bytes: int = 65536
) -> Iterator[CuttingProxy]:
    """A :class:`CuttingProxy`, stopped on exit."""
    proxy = CuttingProxy(target_port, cut_post, after_bytes)
    try:
        yield proxy
    finally:
        proxy.stop()
