"""A build publishing while the server reads: no failed request, and the server follows."""

from __future__ import annotations

import threading
import time

from portrait import open_workspace
from portrait.api.snapshot import current, publish
from portrait.serving import ServingPaths

from .conftest import CUSTOMER
from support import run_cli_process


def test_publishing_while_reads_run_fails_no_request(shop):
    path = shop.paths["north"]
    routes = [f"/v1/shops/north/customers/{CUSTOMER}", "/v1/shops/north/segments",
              f"/v1/shops/north/customers/{CUSTOMER}/recommendations?n=3",
              "/v1/shops/north/tags"]  # fmt: skip
    stop = threading.Event()
    failures: list[str] = []
    counts = [0]

    def read(route: str) -> None:
        import httpx

        with httpx.Client(base_url=shop.url, timeout=30) as client:
            headers = {"Authorization": f"Bearer {shop.keys['north']['analyst']}"}
            while not stop.is_set():
                r = client.get(route, headers=headers)
                counts[0] += 1
                if r.status_code != 200:
                    failures.append(f"{route}: {r.status_code} {r.text[:200]}")

    readers = [threading.Thread(target=read, args=(route,)) for route in routes]
    for t in readers:
        t.start()
    try:
        before = shop.get("/v1/shops/north").json()["snapshot"]["run_id"]
        with open_workspace(path) as ws:
            published = [publish(ws) for _ in range(3)]
        # `portrait build` in another process, while the server reads: nothing is locked
        result = run_cli_process("build", "-w", str(path))
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 3
        while shop.get("/v1/shops/north").json()["snapshot"]["run_id"] != published[-1].run_id:
            assert time.monotonic() < deadline, "the server did not switch to the new snapshot"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not failures, failures[:5]
    assert counts[0] > 20
    assert before != published[-1].run_id
    serving = ServingPaths(path)
    assert current(serving).run_id == published[-1].run_id
    assert len(list(serving.root.glob("warehouse-*.duckdb"))) == 2  # older ones deleted
    assert len(list(serving.root.glob("profiles-*.sqlite"))) == 2
