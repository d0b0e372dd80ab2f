"""portrait.toml is checked when loaded; each mistake names the key and the fix."""

from __future__ import annotations

import pytest

from portrait import init_workspace, open_workspace
from portrait.config import parse_config, render_config
from portrait.errors import ConfigError, WorkspaceError


def test_defaults_round_trip():
    config = parse_config("")
    assert parse_config(render_config(config)) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[shop]\ntimezone = "Asia/Shangai"\n',
         "shop.timezone: 'Asia/Shangai' is not a known time zone"),
        ('[shop]\ncurrency = "rmb"\n', "shop.currency: 'rmb' is not an ISO 4217 code"),
        ('[shop]\ntmezone = "UTC"\n', "unknown key 'shop.tmezone'"),
        ('[engine]\nbackend = "spork"\n', "engine.backend: input should be 'duckdb' or 'spark'"),
        ('[engine]\nmemory_limit = "lots"\n', "engine.memory_limit: 'lots' is not a size"),
        ("[shop\n", "is not valid TOML"),
    ],
)  # fmt: skip
def test_mistakes_name_the_key(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config(text)


def test_a_broken_workspace_config_fails_at_open(tmp_path):
    ws = init_workspace(tmp_path / "w")
    ws.close()
    (tmp_path / "w" / "portrait.toml").write_text('[shop]\ncurrency = "yuan"\n')
    with pytest.raises(ConfigError, match="shop.currency"):
        open_workspace(tmp_path / "w")


def test_init_refuses_an_existing_workspace(tmp_path):
    init_workspace(tmp_path / "w").close()
    with pytest.raises(WorkspaceError, match="already a Portrait workspace"):
        init_workspace(tmp_path / "w")
