"""Rule tags: every kind of mistake fails at load naming the tag and the problem; good rules
select exactly the customers their condition describes."""

from __future__ import annotations

import pytest

from portrait.config import parse_config
from portrait.errors import ConfigError

from support import run_cli


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("monetary_356d >= 100", "unknown feature 'monetary_356d' (did you mean 'monetary_365d'?)"),
        ("monetary_365d = 100", "compare with '==', not '='"),
        ("(orders_90d >= 2", "syntax error"),
        ("orders_90d >= 2 AND frequency > 1", "lower case"),
        ("top_category > 3", "type mismatch: > compares a string with a number"),
        ("orders_90d and frequency > 1", "type mismatch: 'and' joins conditions"),
        ("top_category in [1, 2]", "type mismatch: 'in' needs a list of strings"),
        ("recency_days == null", "is null"),
        ("p80(top_category) < 3", "p80() takes one numeric feature"),
        ("frequency", "the rule is a number, not a condition"),
        ("__import__('os')", "the only functions are"),
        ("frequency.real > 1", "is not allowed in a rule"),
        ("", "the rule is empty"),
    ],
)
def test_each_kind_of_mistake_names_the_tag_and_the_problem(rule, problem):
    with pytest.raises(ConfigError) as info:
        parse_config(f'[tags.rules]\nmy_tag = "{rule}"\n')
    message = str(info.value)
    assert "tag 'my_tag'" in message and problem in message, message
    assert message.count("\n") == 0
    if rule:
        assert "position" in message


def test_positions_point_at_the_mistake():
    with pytest.raises(ConfigError, match=r"position 19 of .*unknown feature 'orderz_90d'"):
        parse_config('[tags.rules]\nt = "frequency > 1 and orderz_90d > 2"\n')


def test_a_rule_clashing_with_a_built_in_tag_is_refused():
    with pytest.raises(ConfigError, match="high_value.*already a built-in tag"):
        parse_config('[tags.rules]\nhigh_value = "frequency > 1"\n')


def test_bad_fact_tags_are_refused_at_load():
    with pytest.raises(ConfigError, match="give as many labels"):
        parse_config('[tags.facts.b]\nfeature = "basket_size"\nedges = [2, 5]\nlabels = ["a"]\n')
    with pytest.raises(ConfigError, match="unknown feature 'basket'"):
        parse_config('[tags.facts.b]\nfeature = "basket"\nedges = [2]\nlabels = ["a", "b"]\n')


def test_a_bad_rule_stops_the_cli_at_start_up_with_one_line(tmp_path):
    assert run_cli("init", str(tmp_path / "ws")).returncode == 0
    config = tmp_path / "ws" / "portrait.toml"
    config.write_text(
        config.read_text() + '\n[tags.rules]\nvip = "monetary_365d >= p80(monetary_36d)"\n'
    )
    result = run_cli("status", "-w", str(tmp_path / "ws"))
    assert result.returncode == ConfigError.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "tag 'vip'" in result.stderr and "monetary_36d" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
