"""Keys and roles on a real server: every route with each role, other shops, bad keys, audit."""

from __future__ import annotations

import json

import pytest

from portrait import open_workspace
from portrait.profile import customer_profile
from portrait.segments import segment_report

from .conftest import CUSTOMER
from support import run_cli

C = CUSTOMER
#: (method, path under the shop, JSON body, the least role that may)
ROUTES = [
    ("GET", "", None, "viewer"),
    ("GET", "/segments", None, "viewer"),
    ("GET", "/tags", None, "viewer"),
    ("GET", "/tags/catalogue", None, "viewer"),
    ("GET", "/reviews", None, "viewer"),
    ("GET", f"/customers/{C}", None, "analyst"),
    ("GET", f"/customers/{C}/recommendations?n=5", None, "analyst"),
    ("GET", f"/customers/{C}/realtime", None, "analyst"),
    ("POST", "/events", [], "analyst"),
    ("GET", "/audiences", None, "viewer"),
    ("POST", "/audiences/preview", {"definition": "high_value"}, "viewer"),
    ("POST", "/audiences/insight", {"audience": "high_value"}, "viewer"),
    ("POST", "/audiences/from-text", {"text": "高价值用户"}, "viewer"),
    ("GET", "/campaigns", None, "viewer"),
    ("GET", "/keys", None, "admin"),
    ("POST", "/keys", {"role": "viewer"}, "admin"),
    ("DELETE", "/keys/000000000000", None, "admin"),
    ("DELETE", f"/customers/{C}", None, "admin"),
]
ORDER = ["viewer", "analyst", "admin"]


def _allowed(role: str, needed: str) -> bool:
    return ORDER.index(role) >= ORDER.index(needed)


@pytest.mark.parametrize("role", ORDER)
@pytest.mark.parametrize(("method", "path", "body", "needed"), ROUTES,
                         ids=[f"{m} {p or '/'}" for m, p, _, _ in ROUTES])  # fmt: skip
def test_each_route_with_each_role(shops, role, method, path, body, needed):
    if _allowed(role, needed) and method == "DELETE":
        pytest.skip("admin deletions are tested where they may change the shop")
    r = shops.call(method, f"/v1/shops/north{path}", role=role, json=body)
    if _allowed(role, needed):
        assert r.status_code in (200, 201), r.text
    else:
        assert r.status_code == 403, r.text
        error = r.json()["error"]
        assert error["code"] == "forbidden"
        assert role in error["message"] and needed in error["message"]


@pytest.mark.parametrize(("method", "path", "body", "needed"), ROUTES,
                         ids=[f"{m} {p or '/'}" for m, p, _, _ in ROUTES])  # fmt: skip
def test_a_key_of_another_shop_opens_nothing(shops, method, path, body, needed):
    r = shops.call(method, f"/v1/shops/north{path}", key=shops.keys["south"]["admin"], json=body)
    assert r.status_code == 403
    assert "south" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer pt_000000000000_" + "x" * 43],
)
def test_no_key_or_a_bad_one_is_401(shops, header):
    headers = {"Authorization": header} if header else {}
    r = shops.call("GET", "/v1/shops/north/segments", role=None, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["error"]["message"] or "not valid" in r.text


def test_a_wrong_secret_for_a_real_key_id_is_401(shops):
    key = shops.keys["north"]["admin"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert shops.call("GET", "/v1/shops/north/segments", key=forged).status_code == 401


def test_an_unknown_shop_is_404_for_a_valid_key(shops):
    r = shops.get("/v1/shops/west/segments")
    assert r.status_code == 404
    assert "west" in r.json()["error"]["message"]


def test_the_profile_is_what_the_library_returns(shops):
    body = shops.get(f"/v1/shops/north/customers/{C}", role="analyst").json()
    with open_workspace(shops.paths["north"]) as ws:
        expected = customer_profile(ws, C).model_dump(mode="json")
        segments = segment_report(ws).model_dump(mode="json")
    assert body["profile"] == expected
    rfm = expected["segments"]["rfm_segment"]
    assert {"rfm_segment": rfm} in [{p["grouping"]: p["segment"]} for p in body["personas"]]
    assert body["realtime"]["user_id"] == C
    assert shops.get("/v1/shops/north/segments", role="viewer").json() == segments


def test_the_profile_holds_no_personal_data(shops):
    text = shops.get(f"/v1/shops/north/customers/{C}", role="analyst").text
    with open_workspace(shops.paths["north"]) as ws:
        u = ws.table("users")
        row = u.filter(u.user_id == C).to_pyarrow().to_pylist()[0]
    for column in ("phone", "email", "name", "address"):
        if row[column]:
            assert row[column] not in text


def test_made_and_revoked_keys(shops):
    made = shops.call("POST", "/v1/shops/north/keys", json={"role": "analyst"})
    assert made.status_code == 201
    key, key_id = made.json()["key"], made.json()["info"]["key_id"]
    stored = (shops.paths["north"] / "serving" / "api_keys.json").read_text()
    assert key_id in stored and key not in stored and key.split("_", 2)[2] not in stored
    listed = shops.get("/v1/shops/north/keys").json()["keys"]
    assert key_id in [k["key_id"] for k in listed] and "key" not in listed[0]
    assert shops.get(f"/v1/shops/north/customers/{C}", key=key).status_code == 200
    assert shops.call("DELETE", f"/v1/shops/north/keys/{key_id}").status_code == 200
    assert shops.get(f"/v1/shops/north/customers/{C}", key=key).status_code == 401
    assert shops.call("DELETE", f"/v1/shops/north/keys/{key_id}").status_code == 404
    bad = shops.call("POST", "/v1/shops/north/keys", json={"role": "owner"})
    assert bad.status_code == 422 and "role" in bad.json()["error"]["message"]


def test_reads_of_customers_are_audited_without_the_key(shops):
    analyst, viewer = shops.keys["north"]["analyst"], shops.keys["north"]["viewer"]
    shops.get(f"/v1/shops/north/customers/{C}/recommendations", key=analyst)
    shops.get(f"/v1/shops/north/customers/{C}", key=viewer)  # refused, and audited
    shops.get("/v1/shops/north/customers/nobody-at-all", key=analyst)
    shops.get("/v1/shops/north/segments", key=analyst)  # not a customer: not audited
    audit = shops.paths["north"] / "serving" / "audit.jsonl"
    text = audit.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    last = lines[-3:]
    assert [(e["role"], e["user_id"], e["status"]) for e in last] == [
        ("analyst", C, 200), ("viewer", C, 403), ("analyst", "nobody-at-all", 404)]  # fmt: skip
    assert last[0]["route"] == "/v1/shops/{shop}/customers/{user_id}/recommendations"
    assert all(e["key_id"] and e["time"] and e["method"] == "GET" for e in last)
    assert all(k not in text for k in (analyst, viewer))
    assert all("segments" not in e["route"] for e in lines)


def test_the_cli_makes_a_key_and_prints_it_once(shops, tmp_path):
    path = shops.paths["south"]
    result = run_cli("api-key", "create", "--role", "viewer", "-w", str(path))
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("pt_")
    assert key not in (path / "serving" / "api_keys.json").read_text()
    listed = run_cli("api-key", "list", "-w", str(path), "--format", "json")
    assert key not in listed.stdout and key.split("_")[1] in listed.stdout
    assert shops.call("GET", "/v1/shops/south/segments", key=key).status_code == 200
    assert run_cli("api-key", "create", "--role", "owner", "-w", str(path)).returncode != 0
