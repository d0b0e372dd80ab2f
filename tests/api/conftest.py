"""A real API server for the tests: uvicorn on 127.0.0.1, a free port, in a thread.

Shops are copies of the built demo shop under names of their own (the folder's name is the
shop's name in URLs). ``shops`` is one server with two shops, shared by a module's tests
that only read; tests that change a shop start a server of their own with ``running``.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from portrait import open_workspace
from portrait.api import ServerConfig, create_app
from portrait.api.keys import ROLES, create_key
from portrait.api.snapshot import publish


def shop_copy(demo_shop, folder: Path, name: str, *, published: bool = True) -> Path:
    """A copy of the built demo shop named ``name``, with a snapshot published (as
    ``portrait build`` leaves a served workspace)."""
    target = folder / name
    shutil.copytree(demo_shop.path, target, ignore=shutil.ignore_patterns("serving"))
    if published:
        with open_workspace(target) as ws:
            publish(ws)
    return target


def keys_for(path: Path) -> dict[str, str]:
    """A key of each role for the shop in ``path``."""
    return {role: create_key(path, role, created_by="tests").key for role in ROLES}


@contextmanager
def running(workspaces: list[Path], **settings: Any) -> Iterator[str]:
    """A real server for ``workspaces``; its base URL."""
    app = create_app(ServerConfig(workspaces=workspaces, **settings))
    # IPPROTO_TCP, so that asyncio sets TCP_NODELAY on the connections (else Nagle adds 40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@dataclass
class Api:
    """A client of a running server, with keys by shop and role."""

    url: str
    paths: dict[str, Path]
    keys: dict[str, dict[str, str]]
    client: httpx.Client

    def call(self, method: str, path: str, *, shop: str = "north", role: str | None = "admin",
             key: str | None = None, **kwargs: Any) -> httpx.Response:  # fmt: skip
        headers = dict(kwargs.pop("headers", {}))
        key = key or (self.keys[shop][role] if role else None)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)


@contextmanager
def serving(paths: dict[str, Path], **settings: Any) -> Iterator[Api]:
    keys = {name: keys_for(path) for name, path in paths.items()}
    with (
        running(list(paths.values()), **settings) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield Api(url=url, paths=paths, keys=keys, client=client)


@pytest.fixture(scope="module")
def shops(demo_shop, tmp_path_factory) -> Iterator[Api]:
    """One server with two shops, north and south (tests must not change them)."""
    folder = tmp_path_factory.mktemp("shops")
    paths = {name: shop_copy(demo_shop, folder, name) for name in ("north", "south")}
    with serving(paths) as api:
        yield api


@pytest.fixture
def shop(demo_shop, tmp_path) -> Iterator[Api]:
    """A server of its own with one shop, north, that the test may change."""
    with serving({"north": shop_copy(demo_shop, tmp_path, "north")}) as api:
        yield api


CUSTOMER = "12347"  # a customer of the demo shop, with orders, a profile and recommendations
