"""The ``openai`` backend end to end over HTTP: the real SDK against a server on loopback."""

from __future__ import annotations

import json
import logging
import time

import pytest

from portrait.errors import ConfirmationNeeded, LLMError
from portrait.labels import Label
from portrait.llm import Job, ResponseCache, generate_all
from portrait.llm.persona import PersonaText, offline_persona, persona_facts
from portrait.llm.prompting import render_prompt
from portrait.segments import GroupingTotals, SegmentStats

from .conftest import Reply

GOOD = {
    "name": "Big spenders",
    "description": "1,234 customers, 12.3% of all, bring 45.6% of the spend.",
    "distinguishing": "They ordered 6.5 times against 4.2 for the shop.",
    "actions": ["Reward them.", "Ask for referrals."],
}
INVENTED = {**GOOD, "description": "12,345 customers, 12.3% of all, bring 45.6% of the spend."}


def job(name: str = "Champions", zh: str = "重要价值客户", customers: int = 1234) -> Job:
    stats = SegmentStats(
        segment=name, label=Label(en=name, zh=zh), customers=customers, share=0.1234,
        value_share=0.456, avg_frequency=6.54, avg_recency_days=20.2, avg_monetary=2981.7,
    )  # fmt: skip
    shop = GroupingTotals(customers=10000, avg_frequency=4.2, avg_recency_days=93.0,
                       avg_monetary=2196.0)  # fmt: skip
    facts = persona_facts("rfm_segment", stats, shop, [], "GBP")
    offline = offline_persona("rfm_segment", stats, shop, [], "GBP", "en")
    prompt = render_prompt("persona", "en", facts)
    return Job(prompt, PersonaText, facts, offline, ("Champions", "At Risk", "重要价值客户"))


def test_success_sends_a_json_schema_and_counts_tokens(server, backend, tmp_path):
    server.script = [Reply(json.dumps(GOOD))]
    [out] = generate_all(backend, [job()], cache=ResponseCache(tmp_path))
    assert out.source == "model" and out.value.name == "Big spenders"
    [request] = server.requests
    assert request["model"] == "test-model"
    assert request["response_format"]["type"] == "json_schema"
    assert '"avg_monetary": 2981.7' in request["messages"][1]["content"]
    assert (backend.usage.requests, backend.usage.prompt_tokens) == (1, 100)
    assert backend.usage.cost(0.5, 1.5) == pytest.approx((100 * 0.5 + 20 * 1.5) / 1000)


def test_a_timeout_is_retried(server, backend):
    server.script = [Reply(json.dumps(GOOD), delay=1.0), Reply(json.dumps(GOOD))]
    [out] = generate_all(backend, [job()])
    assert out.source == "model" and len(server.requests) == 2


def test_a_server_that_never_answers_in_time_is_a_typed_error(server, backend):
    server.script = [Reply(json.dumps(GOOD), delay=1.0)] * 3
    with pytest.raises(LLMError, match="no answer within 0.5 s after 3 attempts"):
        generate_all(backend, [job()])


def test_429_then_success_honours_retry_after(server, backend):
    backend.backoff = 30.0  # the header, not the backoff, decides the wait
    server.script = [Reply(status=429, headers={"Retry-After": "0.3"}), Reply(json.dumps(GOOD))]
    t0 = time.perf_counter()
    [out] = generate_all(backend, [job()])
    assert out.source == "model" and len(server.requests) == 2
    assert 0.3 <= time.perf_counter() - t0 < 5


def test_5xx_then_success(server, backend):
    server.script = [Reply(status=503), Reply(status=500), Reply(json.dumps(GOOD))]
    [out] = generate_all(backend, [job()])
    assert out.source == "model" and len(server.requests) == 3


def test_malformed_json_is_sent_back_and_repaired(server, backend):
    server.script = [Reply('{"name": "Big spenders", "description": '), Reply(json.dumps(GOOD))]
    [out] = generate_all(backend, [job()])
    assert out.value.name == "Big spenders"
    repair = server.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "not valid JSON" in repair[-1]["content"]


def test_a_server_without_json_schema_gets_json_mode(server, backend):
    server.script = [
        Reply(status=400, error="response_format json_schema is not supported"),
        Reply("```json\n" + json.dumps(GOOD) + "\n```"),
    ]
    [out] = generate_all(backend, [job()])
    assert out.source == "model"
    assert server.requests[1]["response_format"] == {"type": "json_object"}
    assert backend.mode == "json_object"


def test_refused_sampling_parameters_are_replaced_or_dropped(server, backend):
    server.script = [
        Reply(status=400, error="Unsupported parameter: 'max_tokens'; use max_completion_tokens"),
        Reply(status=400, error="Unsupported value: 'temperature' does not support 0.2"),
        Reply(json.dumps(GOOD)),
    ]
    [out] = generate_all(backend, [job()])
    assert out.source == "model"
    last = server.requests[-1]
    assert last["max_completion_tokens"] == 800 and "max_tokens" not in last
    assert "temperature" not in last


def test_a_request_the_server_refuses_is_a_typed_error(server, backend):
    server.script = [Reply(status=401, error="bad key")]
    with pytest.raises(LLMError, match="HTTP 401"):
        generate_all(backend, [job()])


def test_an_invented_number_is_rejected_then_replaced_by_the_offline_text(
    server, backend, tmp_path, caplog
):
    server.default = lambda request: json.dumps(INVENTED)
    j = job()
    with caplog.at_level(logging.WARNING, logger="portrait.llm"):
        [out] = generate_all(backend, [j], cache=ResponseCache(tmp_path))
    assert out.source == "offline_fallback" and out.value == j.offline
    assert len(server.requests) == 2  # the answer, and one regeneration told what was wrong
    assert "12,345" in server.requests[1]["messages"][-1]["content"]
    assert "number '12,345'" in caplog.text and "using the offline text" in caplog.text


def test_a_changed_number_is_rejected_but_a_rounded_one_passes(server, backend):
    changed = {**GOOD, "description": "1,234 customers, 12.4% of all, bring 45.6%."}
    server.script = [Reply(json.dumps(changed)), Reply(json.dumps(GOOD))]
    [out] = generate_all(backend, [job()])
    assert out.source == "model" and out.rejected == ("number '12.4%'",)


def test_naming_another_segment_is_rejected(server, backend):
    other = {**GOOD, "name": "At Risk"}
    server.script = [Reply(json.dumps(other)), Reply(json.dumps(GOOD))]
    [out] = generate_all(backend, [job()])
    assert out.rejected == ("name 'At Risk'",)


def test_a_cached_rerun_makes_zero_requests(server, backend, tmp_path):
    server.default = lambda request: json.dumps(GOOD)
    cache = ResponseCache(tmp_path)
    jobs = [job(), job("At Risk", "流失风险客户", 500)]
    server.default = lambda request: json.dumps(
        GOOD
        if "Champions" in request["messages"][1]["content"]
        else {**GOOD, "name": "At Risk", "description": "500."}
    )
    first = generate_all(backend, jobs, cache=cache)
    made = len(server.requests)
    assert made == 2 and [g.source for g in first] == ["model", "model"]
    again = generate_all(backend, jobs, cache=cache)
    assert len(server.requests) == made
    assert [g.source for g in again] == ["cache", "cache"]
    assert [g.value for g in again] == [g.value for g in first]


def test_no_raw_pii_in_any_request(server, backend):
    server.default = lambda request: json.dumps(GOOD)
    leaky = job(name="Champions alice.wong@example.com +86 138-1234-5678")
    generate_all(backend, [leaky])
    sent = b"".join(server.raw).decode()
    assert server.raw
    for raw in ("alice.wong@example.com", "138-1234-5678", "13812345678", "sk-test-key"):
        assert raw not in sent
    assert "[email]" in sent and "[phone]" in sent


def test_a_large_run_asks_first(server, backend):
    server.default = lambda request: json.dumps(GOOD)
    jobs = [job(), job(customers=1234), job()]
    with pytest.raises(ConfirmationNeeded, match=r"3 paid calls to test-model \(about [\d,]+ inp"):
        generate_all(backend, jobs, max_paid_calls=2)
    assert server.requests == []
    done = generate_all(backend, jobs, max_paid_calls=2, yes=True)
    assert len(done) == 3 and len(server.requests) == 3


def test_at_most_concurrency_requests_are_in_flight(server, backend):
    server.script = [Reply(json.dumps(GOOD), delay=0.15) for _ in range(6)]
    done = generate_all(backend, [job(customers=1234) for _ in range(6)], yes=True)
    assert len(done) == 6 and len(server.requests) == 6
    assert server.most_in_flight == backend.concurrency == 2
