"""Shared fixtures: fresh workspaces (the datasets are in ``support``)."""

from __future__ import annotations

import pytest

from portrait import init_workspace
from portrait.config import Config, ShopConfig


@pytest.fixture
def ws(tmp_path):
    workspace = init_workspace(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture
def shanghai_ws(tmp_path):
    config = Config(shop=ShopConfig(name="t", timezone="Asia/Shanghai", currency="CNY"))
    workspace = init_workspace(tmp_path / "ws", config)
    yield workspace
    workspace.close()


def _state(workspace) -> tuple:
    """What a test that changed a shared workspace would have changed: its data, its
    tables, and its runs."""
    # (an open connection also lists its temporary tables, ibis_*, which go with it)
    tables = sorted(t for t in workspace.con.list_tables() if not t.startswith("ibis_"))
    return workspace.data_version(), tables, workspace.count("runs")


def _ingested(tmp_path_factory, name: str, files: list[tuple[str, str]], zone: str):
    from portrait.ingest import ingest

    from support import data_file

    config = Config(shop=ShopConfig(name=name, timezone=zone, currency="CNY"))
    workspace = init_workspace(tmp_path_factory.mktemp(name) / "ws", config)
    for path, preset in files:
        ingest(workspace, data_file(path), preset=preset)
    return workspace


@pytest.fixture(scope="session")
def retail_ws(tmp_path_factory):
    """The whole of Online Retail, ingested once; tests must not change it."""
    workspace = _ingested(
        tmp_path_factory,
        "retail",
        [("online_retail/online_retail.csv.gz", "online-retail")],
        "Europe/London",
    )
    before = _state(workspace)
    yield workspace
    assert _state(workspace) == before, "a test changed the shared retail_ws; copy it first"
    workspace.close()


@pytest.fixture(scope="session")
def taobao_ws(tmp_path_factory):
    """The Taobao log of 814 users over 9 days, ingested once; tests must not change it."""
    workspace = _ingested(
        tmp_path_factory,
        "taobao",
        [("taobao_userbehavior/UserBehavior_user_head_814users.csv.gz", "taobao")],
        "Asia/Shanghai",
    )
    before = _state(workspace)
    yield workspace
    assert _state(workspace) == before, "a test changed the shared taobao_ws; copy it first"
    workspace.close()


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory):
    """The demo (the bundled Online Retail sample, ingested and built) and its seconds.

    The default sentiment model is trained first (once per machine, ~25 s, then cached), so
    the seconds are the demo's own, as on every run after a machine's first."""
    import time

    from portrait.datasets.demo import run_demo
    from portrait.text import default_model

    default_model()
    t0 = time.perf_counter()
    result = run_demo(tmp_path_factory.mktemp("demo") / "shop")
    return result, time.perf_counter() - t0


@pytest.fixture(scope="session")
def demo_shop(demo_build):
    """The demo's facts and workspace, made once per test session: tests read the workspace
    (``demo_shop.path``) and must not change it; ``demo_ws`` is a copy they may change."""
    from portrait import open_workspace

    result = demo_build[0]
    with open_workspace(result.path) as ws:
        before = _state(ws)
    yield result
    with open_workspace(result.path) as ws:
        assert _state(ws) == before, "a test changed the shared demo workspace; use demo_ws"


@pytest.fixture
def demo_ws(demo_shop, tmp_path):
    """A fresh copy of the built demo workspace, for a test that changes it."""
    from portrait import open_workspace

    from support import copy_workspace

    shared = open_workspace(demo_shop.path)
    workspace = copy_workspace(shared, tmp_path)
    yield workspace
    workspace.close()
