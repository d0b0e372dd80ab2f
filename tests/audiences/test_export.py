"""Exports hold exactly an audience's members, with user_id and the columns asked for and
never a PII column, in CSV and Parquet; each is recorded so a later "forget" finds it."""

from __future__ import annotations

import pandas as pd
import pytest

from portrait.audiences import export_members, list_exports, preview, save_audience
from portrait.audiences.export import PII_COLUMNS
from portrait.errors import ConfigError, NotFoundError
from portrait.schema import USERS

from support import run_cli

pytestmark = pytest.mark.slow

DEFINITION = "rfm_segment in ('At Risk', 'Hibernating', 'Lost') and monetary > 200"


def _members(ws) -> set[str]:
    f = ws.table("features").to_pandas()[["user_id", "monetary"]]
    t = ws.table("tags").to_pandas()[["user_id", "rfm_segment"]]
    both = f.merge(t, on="user_id")
    chosen = both.rfm_segment.isin(["At Risk", "Hibernating", "Lost"]) & (both.monetary > 200)
    return set(both.user_id[chosen])


def _read(path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, dtype={"user_id": str})
    return pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_exactly_the_members_and_no_pii(demo_ws, tmp_path, fmt):
    # the users table really holds PII columns, and the workspace has them
    assert {"phone", "email", "name", "address"} <= PII_COLUMNS
    assert set(demo_ws.table("users").columns) >= PII_COLUMNS
    save_audience(demo_ws, "winback", DEFINITION)
    path = tmp_path / f"winback.{fmt}"
    report = export_members(demo_ws, "winback", path, format=fmt,
                            columns=["clv", "rfm_segment", "country"])  # fmt: skip
    written = _read(path, fmt)
    expected = _members(demo_ws)
    assert 0 < len(expected) == report.rows == len(written)
    assert set(written.user_id) == expected and written.user_id.is_unique
    assert list(written.columns) == report.columns == ["user_id", "clv", "rfm_segment", "country"]
    assert not set(written.columns) & {c.name for c in USERS.columns if c.pii}
    clv = demo_ws.table("value").to_pandas().set_index("user_id").clv
    assert written.set_index("user_id").clv.to_dict() == pytest.approx(
        clv[list(written.user_id)].to_dict()
    )
    assert report.path == str(path.resolve()) and report.format == fmt
    assert report.as_of == preview(demo_ws, DEFINITION).as_of


def test_pii_and_unknown_columns_are_refused(demo_ws, tmp_path):
    save_audience(demo_ws, "winback", DEFINITION)
    for column in sorted(PII_COLUMNS):
        with pytest.raises(ConfigError, match="personal data"):
            export_members(demo_ws, "winback", tmp_path / "x.csv", columns=[column])
    with pytest.raises(ConfigError, match="did you mean 'clv'"):
        export_members(demo_ws, "winback", tmp_path / "x.csv", columns=["cvl"])
    with pytest.raises(ConfigError, match="does not exist"):
        export_members(demo_ws, "winback", tmp_path / "missing" / "x.csv")
    with pytest.raises(NotFoundError, match="saved: winback"):
        export_members(demo_ws, "winbak", tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    assert list_exports(demo_ws).exports == []


def test_every_export_is_recorded(demo_ws, tmp_path):
    save_audience(demo_ws, "winback", DEFINITION)
    first = export_members(demo_ws, "winback", tmp_path / "a.csv")
    second = export_members(demo_ws, "winback", tmp_path / "b.parquet", format="parquet",
                            columns=["clv"])  # fmt: skip
    assert list_exports(demo_ws).exports == [first, second]
    assert list_exports(demo_ws, "winback").exports == [first, second]
    assert list_exports(demo_ws, "other").exports == []
    recorded = demo_ws.table("audience_exports").to_pandas()
    assert list(recorded.path) == [str(tmp_path / "a.csv"), str(tmp_path / "b.parquet")]
    assert list(recorded.rows) == [first.rows, second.rows]


def test_cli_export(demo_ws, tmp_path):
    save_audience(demo_ws, "winback", DEFINITION)
    demo_ws.close()
    w = ["-w", str(demo_ws.path)]
    out = tmp_path / "winback.parquet"
    r = run_cli("audience", "export", "winback", "--out", str(out), "--format", "parquet",
                "--columns", "clv,rfm_segment", *w)  # fmt: skip
    assert r.returncode == 0, r.stderr
    written = pd.read_parquet(out)
    assert list(written.columns) == ["user_id", "clv", "rfm_segment"]
    assert f"exported {len(written):,} members" in r.stdout
    r = run_cli("audience", "export", "winback", "--out", str(tmp_path / "x.csv"),
                "--columns", "email", *w)  # fmt: skip
    assert r.returncode == 2 and r.stderr.startswith("error: 'email' is personal data")
    r = run_cli("audience", "export", "winback", "--out", str(tmp_path / "x.xml"),
                "--format", "xml", *w)  # fmt: skip
    assert r.returncode == 2
