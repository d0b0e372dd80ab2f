"""Forgetting a customer on a served workspace: the library's forgetting, then the server's.

:func:`portrait.privacy.forget_customer` removes the person from every table, the LLM cache,
the audience exports and the event store. What is the server's own is done here: a new
snapshot is published without them and every older one deleted (the copies of the warehouse
and the profile stores held them), and their lines in the audit log lose the id. The
``DELETE /v1/shops/{shop}/customers/{user_id}`` route and ``portrait forget`` both call
:func:`forget`; the route also drops the person's real-time tags from the server's memory
(``portrait forget`` while a server runs leaves those until the server restarts).
"""

from __future__ import annotations

from pathlib import Path

from portrait.api.audit import AuditLog
from portrait.api.snapshot import current, publish
from portrait.privacy import ForgetReport, forget_customer, ids_of
from portrait.serving import ServingPaths
from portrait.workspace import open_workspace

__all__ = ["forget"]


def forget(workspace: Path, user_id: str, *, requested_by: str) -> tuple[ForgetReport, list[str]]:
    """Forget ``user_id`` in the workspace and its serving files; the report and the ids
    removed (the person and their aliases)."""
    paths = ServingPaths(Path(workspace))
    with open_workspace(workspace) as ws:
        ids = ids_of(ws, user_id)
        report = forget_customer(ws, user_id, requested_by=requested_by)
        if current(paths) is not None:
            publish(ws, keep=1)
    AuditLog(paths.audit).forget(ids)
    return report, ids
