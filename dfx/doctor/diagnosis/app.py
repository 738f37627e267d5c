"""The rules about the app: every orchestrator, activity and entity name in use must be registered."""

from __future__ import annotations

import difflib

from dfx.doctor.diagnosis.findings import Finding, error
from dfx.doctor.diagnosis.snapshot import Snapshot
from dfx.doctor.diagnosis.wording import short
from dfx.emulator.durable.entities import ENTITY_PREFIX, EntityId
from dfx.model.history import EventSentEvent, SubOrchestrationInstanceCreatedEvent, TaskScheduledEvent

_REGISTERED = {"orchestrator": "orchestrators", "activity": "activities", "entity": "entities"}


def used_names(snapshot: Snapshot) -> dict[tuple[str, str], str]:
    """(kind, name) -> where it is used, from the instance's history and the peeked messages.

    Names compare case-insensitively, as the extension looks them up; the first spelling met is kept.
    """
    used: dict[tuple[str, str], tuple[str, str]] = {}

    def add(kind: str, name: str | None, where: str) -> None:
        if name:
            used.setdefault((kind, name.lower()), (name, where))

    def entity_name(instance_id: str) -> str | None:
        return EntityId.parse(instance_id).name if ENTITY_PREFIX in instance_id[1:] else None

    instance = snapshot.instance
    if instance is not None and instance.status not in ("Completed", "Terminated", "Canceled"):
        ident = instance.instance_id
        if ident.startswith(ENTITY_PREFIX):
            add("entity", entity_name(ident), f"instance {ident!r}")
        else:
            add("orchestrator", instance.name, f"instance {ident!r}")
        for event in instance.history:
            if isinstance(event, TaskScheduledEvent):
                add("activity", event.name, f"instance {ident!r}, which schedules it")
            elif isinstance(event, SubOrchestrationInstanceCreatedEvent):
                add("orchestrator", event.name, f"instance {ident!r}, which starts it as a sub-orchestration")
            elif isinstance(event, EventSentEvent) and (event.instance_id or "").startswith(ENTITY_PREFIX):
                add("entity", entity_name(event.instance_id or ""), f"instance {ident!r}, which calls it")
    for queue in snapshot.queues:
        for message in queue.visible:
            target = message.instance_id or ""
            where = f"a message on {queue.name} for instance {target!r}"
            if target.startswith(ENTITY_PREFIX):
                add("entity", entity_name(target), where)
            elif message.event_type == "TaskScheduled":
                add("activity", message.name, where)
            elif message.event_type == "ExecutionStarted":
                add("orchestrator", message.name, where)
    return {(kind, shown): where for (kind, _), (shown, where) in used.items()}


def app_rules(snapshot: Snapshot) -> list[Finding]:
    app = snapshot.app
    if app is None:
        return []
    if app.error is not None:
        return [error("app-load-failed", f"the app does not load: {short(app.error, 200)}",
                       f"Loading {app.script} with dfx's worker failed.",
                       app.hint or "run `dfx start` to see the whole error")]  # fmt: skip
    findings = []
    script = app.script.replace("\\", "/").rsplit("/", 1)[-1]
    for (kind, name), where in used_names(snapshot).items():
        registered: tuple[str, ...] = getattr(app, _REGISTERED[kind])
        lowered = {n.lower(): n for n in registered}
        if name.lower() in lowered:
            continue
        title = f"{kind} {name!r} is not registered by {script} (registered: {', '.join(registered) or 'none'})"
        close = difflib.get_close_matches(name.lower(), list(lowered), 1, 0.6)
        if close:
            fix = f"did you mean {lowered[close[0]]!r}? Call it by that name, or register an {kind} named {name!r}"
        else:
            fix = f"register it, e.g. `dfx new --template {kind} --name {name}`"
        findings.append(error("name-not-registered", title, f"Used by {where}.", fix))
    return findings
