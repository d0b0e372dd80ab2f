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
