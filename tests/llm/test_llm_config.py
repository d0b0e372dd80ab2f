"""The ``[llm]`` section of ``portrait.toml``: typed, checked at load, rendered by init."""

from __future__ import annotations

import pytest

from portrait.config import Config, LLMConfig, parse_config, render_config
from portrait.errors import ConfigError
from portrait.llm import OfflineBackend, make_client
from portrait.llm.openai_backend import OpenAIBackend


def test_offline_is_the_default_and_init_writes_every_setting():
    config = Config()
    assert config.llm.backend == "offline" and config.llm.language == "zh"
    assert parse_config(render_config(config)) == config
    assert isinstance(make_client(config.llm), OfflineBackend)


def test_an_openai_section_round_trips():
    llm = LLMConfig(backend="openai", base_url="http://127.0.0.1:8000/v1", model="m",
                    price_input_per_1k=0.5, language="en")  # fmt: skip
    config = Config(llm=llm)
    assert parse_config(render_config(config)) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('backend = "claude"', "llm.backend"),
        ('api_key_env = "sk-abc123"', "name of an environment variable"),
        ('backend = "openai"', "needs base_url and model"),
        ('base_url = "127.0.0.1:8000"', r"is not an http\(s\) URL"),
        ("timeout = 0", "llm.timeout"),
        ('language = "fr"', "llm.language"),
    ],
)
def test_mistakes_fail_at_load_naming_the_key(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(f"[llm]\n{text}\n")


def test_a_remote_endpoint_needs_its_key(monkeypatch):
    monkeypatch.delenv("PORTRAIT_NO_SUCH_KEY", raising=False)
    llm = LLMConfig(backend="openai", base_url="https://api.example.com/v1", model="m",
                    api_key_env="PORTRAIT_NO_SUCH_KEY")  # fmt: skip
    with pytest.raises(ConfigError, match="PORTRAIT_NO_SUCH_KEY holds no API key"):
        make_client(llm)
    monkeypatch.setenv("PORTRAIT_NO_SUCH_KEY", "sk-x")
    client = make_client(llm)
    assert isinstance(client, OpenAIBackend) and client.paid
    client.close()
