"""Errors on a real server: one JSON shape with a clear message and the right status; bad
input of any kind never answers 500 (a seeded fuzz test of 1,000 malformed requests)."""

from __future__ import annotations

import json
import random
import string
from urllib.parse import quote

import pytest

from .conftest import CUSTOMER


def _error(r, status: int) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) >= {"code", "message"} and error["message"].endswith((".", ")"))
    return error


def test_bad_json(shops):
    for path in ("/v1/shops/north/events", "/v1/shops/north/keys"):
        r = shops.call("POST", path, content=b'[{"event_id": 1,,]',
                       headers={"content-type": "application/json"})  # fmt: skip
        assert "not valid JSON" in _error(r, 422)["message"]
    r = shops.call("POST", "/v1/shops/north/events", json={"event_id": "e1"})
    assert "JSON list of events" in _error(r, 422)["message"]


def test_unknown_ids_are_404(shops):
    error = _error(shops.get("/v1/shops/north/customers/no-such-customer"), 404)
    assert "no-such-customer" in error["message"]
    _error(shops.get("/v1/shops/north/customers/no-such-customer/recommendations"), 404)
    _error(shops.get("/v1/shops/north/customers/no-such-customer/realtime"), 404)
    _error(shops.call("DELETE", "/v1/shops/north/keys/abcdef012345"), 404)


def test_routes_and_methods_that_do_not_exist(shops):
    assert "/docs" in _error(shops.get("/v1/shops/north/nothing-here"), 404)["message"]
    assert "PUT" in _error(shops.call("PUT", "/v1/shops/north/segments"), 405)["message"]


def test_parameters_out_of_range(shops):
    r = shops.get(f"/v1/shops/north/customers/{CUSTOMER}/recommendations?n=0", role="analyst")
    assert "query parameter n" in _error(r, 422)["message"]
    r = shops.get("/v1/shops/north/customers/" + "9" * 300, role="analyst")
    assert "user_id" in _error(r, 422)["message"]


def test_oversized_bodies_are_413(shops):
    big = b"[" + b" " * (1024 * 1024) + b"]"
    r = shops.call("POST", "/v1/shops/north/events", content=big, role="analyst")
    assert "1,048,576 bytes" in _error(r, 413)["message"]

    def chunks():  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b" " * 65536

    r = shops.call("POST", "/v1/shops/north/events", content=chunks(), role="analyst")
    _error(r, 413)


def test_bad_events_are_reported_with_their_index(shops):
    events = [
        {"event_id": "bad-1", "user_id": CUSTOMER, "event_type": "teleport",
         "ts": "2030-13-01T00:00:00"},
        {"event_id": "bad-2", "event_type": "view", "ts": "2024-05-01T12:00:00+08:00",
         "quantity": -1},
    ]  # fmt: skip
    r = shops.call("POST", "/v1/shops/north/events", json=events, role="analyst")
    error = _error(r, 422)
    reasons = {e["index"]: e["reason"] for e in error["rejected"]}
    assert "event_type 'teleport' is not one of view" in reasons[0]
    assert "ts '2030-13-01T00:00:00' is not an ISO 8601" in reasons[0]
    assert "user_id is missing" in reasons[1] and "quantity -1" in reasons[1]


def test_openapi_documents_every_route_with_its_facts(shops):
    spec = shops.client.get("/openapi.json").json()
    paths = spec["paths"]
    base = "/v1/shops/{shop}"
    expected = {
        f"{base}/customers/{{user_id}}": ("get", "CustomerView"),
        f"{base}/customers/{{user_id}}/recommendations": ("get", "CustomerRecommendations"),
        f"{base}/customers/{{user_id}}/realtime": ("get", "RealtimeTags"),
        f"{base}/segments": ("get", "SegmentReport"),
        f"{base}/tags": ("get", "TagReport"),
        f"{base}/tags/catalogue": ("get", "FeatureCatalogue"),
        f"{base}/reviews": ("get", "ReviewSummary"),
        f"{base}/events": ("post", "EventsReceived"),
        f"{base}/keys": ("get", "ApiKeys"),
        base: ("get", "ShopStatus"),
    }
    for path, (method, model) in expected.items():
        op = paths[path][method]
        assert op["description"], path
        schema = json.dumps(op["responses"]["200"]["content"]["application/json"]["schema"])
        assert model in schema, path
    assert paths[f"{base}/customers/{{user_id}}"]["delete"]
    assert "EventIn" in json.dumps(paths[f"{base}/events"]["post"]["requestBody"])
    assert "CustomerProfile" in spec["components"]["schemas"]


# -- fuzz ---------------------------------------------------------------------------------
ODD = ["", " ", "..", "%", "'; DROP TABLE users; --", "\x00", "\u202e", "😀", "null", "-1",
       "9" * 250, "a/b", "\ud7ff" * 3, "12347\n", "NaN", "１２３４７"]  # fmt: skip


def _text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(ODD)
    return "".join(rng.choice(string.printable + "中文é") for _ in range(rng.randint(0, 40)))


def _json_value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -1, 1e308, 2**70, 0.5])
    if kind in (2, 3, 4):
        return _text(rng)
    if kind == 5:
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    fields = ["event_id", "user_id", "item_id", "event_type", "ts", "quantity", "value",
              "session_id", "role", _text(rng)]  # fmt: skip
    return {rng.choice(fields): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def _event(rng: random.Random) -> dict:
    event = {"event_id": f"fuzz-{rng.randint(0, 10**9)}", "user_id": CUSTOMER,
             "event_type": rng.choice(["view", "cart", "order", "pv"]),
             "ts": "2024-05-01T12:00:00+08:00"}  # fmt: skip
    for _ in range(rng.randint(0, 3)):
        event[rng.choice(list(event) + ["quantity", "value", "ts"])] = _json_value(rng)
    return event


def _body(rng: random.Random) -> bytes | None:
    kind = rng.randint(0, 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.randbytes(rng.randint(1, 300))
    if kind == 2:
        return b"[" * rng.choice([10, 5000, 200_000])  # deep nesting
    if kind == 3:
        return json.dumps([_event(rng) for _ in range(rng.randint(1, 20))]).encode()
    if kind == 4:
        return b'{"role": "' + rng.choice([b"admin", b"god", b"\xff"]) + b'"}'
    if kind == 5:
        return b"[1e999, NaN, -Infinity]"
    return json.dumps(_json_value(rng)).encode()


def _path(rng: random.Random) -> str:
    shop = rng.choice(["north", "north", "south", "west", _text(rng)])
    who = rng.choice([CUSTOMER, CUSTOMER, _text(rng)])
    s, u = quote(shop, safe=""), quote(who, safe="")
    return rng.choice([
        f"/v1/shops/{s}/customers/{u}", f"/v1/shops/{s}/customers/{u}/realtime",
        f"/v1/shops/{s}/customers/{u}/recommendations?n={quote(_text(rng), safe='')}",
        f"/v1/shops/{s}/customers/{u}/recommendations?category={quote(_text(rng), safe='')}",
        f"/v1/shops/{s}/segments", f"/v1/shops/{s}/tags", f"/v1/shops/{s}/tags/catalogue",
        f"/v1/shops/{s}/reviews", f"/v1/shops/{s}/events", f"/v1/shops/{s}/keys",
        f"/v1/shops/{s}/keys/{u}", f"/v1/shops/{s}", f"/v1/shops/{s}/audiences",
        f"/v1/{u}", "/v1/health", "/" + quote(_text(rng), safe="/?=&"),
    ])  # fmt: skip


def _headers(rng: random.Random, keys: dict) -> tuple[dict[str, str], str | None]:
    headers: dict[str, str] = {}
    auth, role = rng.randint(0, 6), None
    if auth >= 3:
        shop = rng.choice(["north", "south"])
        role = rng.choice(["viewer", "analyst", "admin"])
        headers["Authorization"] = f"Bearer {keys[shop][role]}"
    elif auth == 2:
        headers["Authorization"] = rng.choice(
            ["Bearer", "Bearer a b", "Basic abc", "Bearer pt_zz_zz", "bearer pt_0123456789ab_"
             + "A" * 40, "Token " + "".join(rng.choices(string.ascii_letters, k=9))]
        )  # fmt: skip
    if rng.random() < 0.5:
        headers["Content-Type"] = rng.choice(
            ["application/json", "text/plain", "application/x-www-form-urlencoded",
             "multipart/form-data", "application/json; charset=latin-1"]
        )  # fmt: skip
    return headers, role


@pytest.mark.slow
def test_no_malformed_request_gets_500(shops):
    rng = random.Random(13)
    statuses: dict[int, int] = {}
    for _ in range(1000):
        method = rng.choice(["GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                             "HEAD"])  # fmt: skip
        path = _path(rng)
        headers, role = _headers(rng, shops.keys)
        if method == "DELETE" and "/customers/" in path and role == "admin":
            method = "GET"  # forgetting is a legitimate request, tested on its own
        r = shops.client.request(method, path, headers=headers, content=_body(rng))
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (method, path, headers, r.text)
        if r.status_code >= 400 and method != "HEAD":
            assert r.json()["error"]["message"], (method, path, r.text)
    assert {200, 401, 403, 404, 422} <= set(statuses), statuses
