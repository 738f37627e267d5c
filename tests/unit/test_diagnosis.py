"""The rules of dfx doctor: hand-built snapshots in, the expected findings and fixes out."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

from dfx.doctor.diagnosis import (
    AppView,
    Finding,
    InstanceView,
    PartitionView,
    QueueView,
    SettingsProblem,
    Severity,
    Snapshot,
    StorageProbe,
    diagnose,
    has_errors,
    is_clean,
    moment,
    open_work,
)
from dfx.emulator.storage.peeked import PeekedMessage
from dfx.model.history import (
    EventRaisedEvent,
    EventSentEvent,
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    SubOrchestrationInstanceCreatedEvent,
    TaskCompletedEvent,
    TaskFailedEvent,
    TaskScheduledEvent,
    TimerCreatedEvent,
    TimerFiredEvent,
)

NOW = datetime(2026, 1, 31, 12, 0, 0, tzinfo=timezone.utc)
HUB = "DoctorHub"
CONTROL = [f"doctorhub-control-{i:02d}" for i in range(4)]
WORK = "doctorhub-workitems"
ME = "devbox"
ID = "order-42"
Q = CONTROL[1]  # the control queue of ID in these snapshots


def probe(answering: bool = True, *, local: bool = True, ports: tuple[int, int, int] = (10000, 10001, 10002)):
    host = "127.0.0.1" if local else "acct.table.core.windows.net"
    endpoints = dict(zip(("blob", "queue", "table"), (f"{host}:{p}" for p in ports), strict=True))
    return StorageProbe("devstoreaccount1 at http://127.0.0.1:10002/devstoreaccount1", local, endpoints,
                        dict.fromkeys(endpoints, answering))  # fmt: skip


def lease(queue: str, owner: str | None = None, *, expires_in: float = 30, answers: bool | None = True):
    return PartitionView(queue, owner, NOW + timedelta(seconds=expires_in) if owner else None,
                         answers if owner else None)  # fmt: skip


def message(queue: str, event_type: str | None = "ExecutionStarted", *, instance: str = ID, name: str | None = None,
            age: float = 5, dequeues: int = 1, event_id: int = -1, answers: int | None = None):  # fmt: skip
    inserted = NOW - timedelta(seconds=age)
    return PeekedMessage(queue, f"m-{event_id}", inserted, dequeues, event_type, instance, name, event_id, answers)


Queues = dict[str, tuple[int, list[PeekedMessage]]]


def hub(*, owner: str | None = None, queues: Queues | None = None, **kw) -> Snapshot:
    """A snapshot of an existing hub; ``owner`` holds every partition, ``queues`` maps names to (count, visible)."""
    queues = queues or {}
    views = tuple(QueueView(n, *queues.get(n, (0, []))) for n in [*CONTROL, WORK])
    views = tuple(QueueView(v.name, v.count, tuple(v.visible)) for v in views)
    defaults = {
        "now": NOW,
        "hub_name": HUB,
        "machine": ME,
        "storage": probe(),
        "hub_exists": True,
        "partitions": tuple(lease(q, owner) for q in CONTROL),
        "queues": views,
        "work_item_queue": WORK,
    }
    return Snapshot(**{**defaults, **kw})


def started(name: str = "hello_orchestrator") -> list:
    return [
        OrchestratorStartedEvent(timestamp=NOW),
        ExecutionStartedEvent(orchestration_instance=OrchestrationInstance(ID, "e1"), name=name, timestamp=NOW),
    ]


def instance(status: str = "Running", history: list | None = None, **kw) -> InstanceView:
    return InstanceView(ID, kw.pop("name", "hello_orchestrator"), status, Q, created=NOW - timedelta(minutes=5),
                        history=tuple(history or []), **kw)  # fmt: skip


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def only(findings: list[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


# -- settings and storage -------------------------------------------------------------------------------


def test_azurite_not_running_names_the_ports_and_the_command_that_starts_it():
    findings = diagnose(Snapshot(now=NOW, hub_name=HUB, storage=probe(False)))
    finding = only(findings, "storage-unavailable")
    assert finding.severity is Severity.ERROR and finding.title == "Azurite is not running on 127.0.0.1:10000-10002"
    assert "`dfx azurite start`" in finding.fix and "dfx start" in finding.fix
    assert has_errors(findings)


def test_azurite_on_custom_ports_gets_the_port_flags():
    finding = only(diagnose(Snapshot(now=NOW, hub_name=HUB, storage=probe(False, ports=(20000, 20001, 20002)))),
                   "storage-unavailable")  # fmt: skip
    assert "20000-20002" in finding.title
    assert "--blob-port 20000 --queue-port 20001 --table-port 20002" in finding.fix


def test_ports_that_accept_connections_but_do_not_answer_are_not_called_stopped():
    silent = dataclasses.replace(probe(False), listening=dict.fromkeys(("blob", "queue", "table"), True))
    finding = only(diagnose(Snapshot(now=NOW, hub_name=HUB, storage=silent)), "storage-unavailable")
    assert "accepts connections but does not answer" in finding.title and "dfx azurite status" in finding.fix


def test_a_real_account_that_does_not_answer_names_the_endpoints_tried():
    finding = only(diagnose(Snapshot(now=NOW, hub_name=HUB, storage=probe(False, local=False, ports=(443,) * 3))),
                   "storage-unavailable")  # fmt: skip
    assert "does not answer" in finding.title and "acct.table.core.windows.net:443" in finding.detail
    assert "connection string" in finding.fix


def test_a_bad_hub_name_suggests_a_valid_one_for_host_json_and_lists_existing_hubs():
    problem = SettingsProblem("hub-name", "Task hub name 'my-hub' is invalid: ...")
    findings = diagnose(Snapshot(now=NOW, hub_name="my-hub", settings_problem=problem, storage=probe(),
                                 hubs=("OtherHub",)))  # fmt: skip
    finding = only(findings, "hub-name-invalid")
    assert finding.severity is Severity.ERROR
    assert "extensions.durableTask.hubName in host.json" in finding.fix and '"myhub"' in finding.fix
    assert "OtherHub" in finding.detail


def test_a_bad_hub_name_given_as_option_suggests_the_option():
    problem = SettingsProblem("hub-name", "invalid")
    finding = only(diagnose(Snapshot(now=NOW, hub_name="1x", hub_from_option=True, settings_problem=problem)),
                   "hub-name-invalid")  # fmt: skip
    assert finding.fix == "pass a valid name, e.g. --task-hub t1x"


def test_a_broken_settings_file_is_a_finding_with_its_position():
    problem = SettingsProblem("config", "/app/host.json:3:5: invalid JSON: Expecting ','.", "Fix the file.")
    finding = only(diagnose(Snapshot(now=NOW, hub_name=HUB, settings_problem=problem)), "config-invalid")
    assert "host.json:3:5" in finding.detail and finding.fix == "Fix the file."


def test_a_missing_hub_lists_the_hubs_that_exist_and_suggests_the_closest():
    snapshot = Snapshot(now=NOW, hub_name="DoctorHb", storage=probe(), hub_exists=False,
                        hubs=("Alpha", "DoctorHub"))  # fmt: skip
    finding = only(diagnose(snapshot), "hub-not-found")
    assert "Alpha, DoctorHub" in finding.detail
    assert "--task-hub DoctorHub" in finding.fix and "dfx start" in finding.fix


def test_a_missing_hub_in_an_empty_account_says_dfx_start_creates_it():
    finding = only(diagnose(Snapshot(now=NOW, hub_name=HUB, storage=probe(), hub_exists=False)), "hub-not-found")
    assert "no task hubs" in finding.detail and "creates the hub" in finding.fix


def test_a_partition_count_other_than_the_settings_is_a_warning():
    finding = only(diagnose(hub(partition_count=8)), "partition-count-mismatch")
    assert finding.severity is Severity.WARNING and "partitionCount in host.json to 4" in finding.fix


# -- partitions -----------------------------------------------------------------------------------------


def test_an_idle_hub_without_host_is_clean():
    findings = diagnose(hub())
    assert codes(findings) == ["no-host"] and is_clean(findings) and not has_errors(findings)


def test_messages_on_a_hub_without_any_host_are_one_error_that_needs_dfx_start():
    findings = diagnose(hub(queues={Q: (1, [message(Q, age=120)]), WORK: (2, [message(WORK, "TaskScheduled")])}))
    finding = only(findings, "no-host")
    assert (
        finding.severity is Severity.ERROR and finding.title == f"no host is running task hub {HUB!r}; 3 messages wait"
    )
    assert f"{Q} (1), {WORK} (2)" in finding.detail and "(ExecutionStarted) since" in finding.detail
    assert "2 min ago" in finding.detail and "`dfx start`" in finding.fix
    assert "partition-unowned" not in codes(findings) and "activities-no-host" not in codes(findings)


def test_only_invisible_messages_on_a_hub_without_host_are_a_warning():
    finding = only(diagnose(hub(queues={Q: (2, [])})), "no-host")
    assert finding.severity is Severity.WARNING and "2 invisible messages will need one" in finding.title


def test_an_expired_lease_says_the_owner_is_gone_and_names_another_machine():
    partitions = tuple(lease(q, "buildbox:7071", expires_in=-300) for q in CONTROL)
    finding = only(diagnose(hub(partitions=partitions, queues={Q: (2, [message(Q)])})), "no-host")
    assert "'buildbox:7071'" in finding.detail and "another machine, buildbox" in finding.detail
    assert "expired at" in finding.detail


def test_a_partition_nobody_owns_while_others_are_owned_is_named():
    partitions = (lease(CONTROL[0]), *(lease(q, f"{ME}:7071") for q in CONTROL[1:]))
    findings = diagnose(hub(partitions=partitions, queues={CONTROL[0]: (1, [message(CONTROL[0], instance="x")])}))
    finding = only(findings, "partition-unowned")
    assert finding.severity is Severity.ERROR and finding.title == f"no host is processing partition {CONTROL[0]}"
    assert "1 message waits" in finding.detail and "No worker owns" in finding.detail


def test_an_empty_unowned_partition_next_to_owned_ones_is_information():
    partitions = (lease(CONTROL[0]), *(lease(q, f"{ME}:7071") for q in CONTROL[1:]))
    assert only(diagnose(hub(partitions=partitions)), "partition-unowned").severity is Severity.INFO


def test_a_valid_lease_of_a_local_dfx_that_does_not_answer_says_the_port_and_the_expiry():
    partitions = tuple(lease(q, f"{ME}:7072", expires_in=40, answers=False) for q in CONTROL)
    finding = only(diagnose(hub(partitions=partitions)), "owner-not-answering")
    assert finding.severity is Severity.WARNING
    assert finding.title == "the host on port 7072 is not answering but holds 4 partitions"
    assert "2026-01-31T12:00:40Z (in 40 s)" in finding.detail and "--port 7072" in finding.fix


def test_live_owners_are_information():
    findings = diagnose(hub(owner=f"{ME}:7071"))
    assert codes(findings) == ["partitions-owned"] and f"{ME}:7071: {CONTROL[0]}" in findings[0].detail


# -- queues ---------------------------------------------------------------------------------------------


def test_a_message_dequeued_five_times_is_a_poison_message_with_its_event_and_instance():
    poison = message(WORK, "TaskScheduled", name="charge_card", dequeues=5, event_id=3)
    finding = only(diagnose(hub(owner=f"{ME}:7071", queues={WORK: (1, [poison])})), "poison-message")
    assert finding.severity is Severity.ERROR and "dequeued 5 times" in finding.title
    assert "TaskScheduled 'charge_card'" in finding.detail and repr(ID) in finding.detail
    assert f"dfx durable terminate {ID}" in finding.fix


def test_four_dequeues_are_not_poison():
    findings = diagnose(hub(owner=f"{ME}:7071", queues={WORK: (1, [message(WORK, "TaskScheduled", dequeues=4)])}))
    assert "poison-message" not in codes(findings)


def test_more_messages_than_a_peek_sees_are_invisible():
    finding = only(diagnose(hub(owner=f"{ME}:7071", queues={Q: (3, [message(Q)])})), "invisible-messages")
    assert finding.title == f"2 messages on {Q} are invisible" and "timers" in finding.detail


def test_an_old_message_a_live_owner_does_not_take_is_a_warning():
    finding = only(diagnose(hub(owner=f"{ME}:7071", queues={Q: (1, [message(Q, age=600)])})), "message-not-taken")
    assert finding.severity is Severity.WARNING and "10 min" in finding.title


def test_work_items_without_a_live_host_next_to_a_silent_owner_are_an_error():
    partitions = tuple(lease(q, f"{ME}:7072", answers=False) for q in CONTROL)
    findings = diagnose(hub(partitions=partitions, queues={WORK: (1, [message(WORK, "TaskScheduled")])}))
    assert only(findings, "activities-no-host").severity is Severity.ERROR


def test_an_unreadable_message_is_a_warning():
    assert only(diagnose(hub(queues={Q: (1, [message(Q, None)])})), "unreadable-message").severity is Severity.WARNING


# -- one instance ---------------------------------------------------------------------------------------


def test_an_unknown_id_is_an_error_listing_similar_ids():
    findings = diagnose(hub(instance_id="order-4", similar_ids=("order-42", "order-43", "other")))
    finding = only(findings, "instance-not-found")
    assert "order-42, order-43" in finding.detail and "dfx doctor order-42" in finding.fix


def test_an_entity_without_a_row_but_with_waiting_operations_has_not_run_yet():
    signal = message(Q, "EventRaised", instance="@counter@k1", name="op")
    finding = only(diagnose(hub(instance_id="@counter@k1", instance_queue=Q, queues={Q: (1, [signal])})),
                   "not-started")  # fmt: skip
    assert finding.severity is Severity.ERROR and finding.title.startswith("entity '@counter@k1' has not run yet")
    assert "EventRaised 'op'" in finding.detail and "`dfx start`" in finding.fix


def test_pending_with_its_start_message_and_no_owner_needs_dfx_start():
    snapshot = hub(instance_id=ID, instance=instance("Pending"), queues={Q: (1, [message(Q)])})
    finding = only(diagnose(snapshot), "pending-no-owner")
    assert finding.severity is Severity.ERROR and Q in finding.title and "`dfx start`" in finding.fix


def test_pending_with_a_live_owner_that_has_not_taken_the_message_for_minutes_is_a_warning():
    snapshot = hub(owner=f"{ME}:7071", instance_id=ID, instance=instance("Pending"),
                   queues={Q: (1, [message(Q, age=300)])})  # fmt: skip
    assert only(diagnose(snapshot), "pending-not-taken").severity is Severity.WARNING


def test_pending_with_no_message_anywhere_means_the_start_was_lost_and_terminate_then_restart_keep_id_fixes_it():
    finding = only(diagnose(hub(instance_id=ID, instance=instance("Pending"))), "pending-start-lost")
    assert finding.severity is Severity.ERROR
    assert finding.fix == (
        "start the app with `dfx start` in its folder, then "
        f"`dfx durable terminate {ID}`; once `dfx inspect status {ID}` shows Terminated, "
        f"`dfx durable restart {ID} --keep-id` runs 'hello_orchestrator' again with the same input"
    )


def test_a_lost_start_on_a_served_partition_needs_no_dfx_start_in_its_fix():
    snapshot = hub(owner=f"{ME}:7071", instance_id=ID, instance=instance("Pending"))
    fix = only(diagnose(snapshot), "pending-start-lost").fix
    assert fix.startswith(f"`dfx durable terminate {ID}`;") and f"restart {ID} --keep-id" in fix


def test_pending_with_an_invisible_message_and_no_owner_is_a_warning():
    finding = only(diagnose(hub(instance_id=ID, instance=instance("Pending"), queues={Q: (1, [])})),
                   "pending-invisible")  # fmt: skip
    assert finding.severity is Severity.WARNING and "visibility timeout" in finding.detail


def test_a_scheduled_start_explains_a_pending_instance():
    view = instance("Pending", scheduled_start=NOW + timedelta(minutes=3))
    findings = diagnose(hub(instance_id=ID, instance=view, queues={Q: (1, [])}))
    assert codes(findings) == ["no-host", "scheduled-start", "invisible-messages"]
    assert "(in 3 min)" in findings[1].title and findings[0].severity is Severity.WARNING


def test_running_with_an_open_activity_whose_work_item_waits_without_host():
    history = [*started(), TaskScheduledEvent(event_id=0, name="say_hello", timestamp=NOW)]
    item = message(WORK, "TaskScheduled", name="say_hello", event_id=0, dequeues=2)
    findings = diagnose(hub(instance_id=ID, instance=instance(history=history), queues={WORK: (1, [item])}))
    finding = only(findings, "activity-no-host")
    assert "'say_hello' (task 0)" in finding.title and "taken 2 times" in finding.detail


def test_running_with_an_open_activity_being_run_by_a_live_host():
    history = [*started(), TaskScheduledEvent(event_id=0, name="say_hello", timestamp=NOW)]
    findings = diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=instance(history=history),
                            queues={WORK: (1, [])}))  # fmt: skip
    assert only(findings, "activity-running").severity is Severity.INFO and is_clean(findings)


def test_an_open_activity_with_no_work_item_and_no_host_was_lost():
    history = [*started(), TaskScheduledEvent(event_id=0, name="say_hello", timestamp=NOW)]
    finding = only(diagnose(hub(instance_id=ID, instance=instance(history=history))), "activity-lost")
    assert finding.severity is Severity.ERROR and "visible or invisible" in finding.detail
    assert f"`dfx durable terminate {ID}`; once" in finding.fix and f"restart {ID} --keep-id" in finding.fix


def test_doctor_does_not_call_an_invisible_reply_lost():
    """A host that took the activity's TaskCompleted from the control queue and died hides it for 5 minutes."""
    history = [*started(), TaskScheduledEvent(event_id=0, name="say_hello", timestamp=NOW)]
    findings = diagnose(hub(instance_id=ID, instance=instance(history=history), queues={Q: (1, [])}))
    assert "activity-lost" not in codes(findings)
    finding = only(findings, "activity-orphaned")
    assert finding.severity is Severity.WARNING and Q in finding.detail and "may be held" in finding.title


def test_an_activity_whose_result_waits_on_the_control_queue_has_finished():
    history = [*started(), TaskScheduledEvent(event_id=0, name="say_hello", timestamp=NOW)]
    result = message(Q, "TaskCompleted", answers=0)
    findings = diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=instance(history=history),
                            queues={Q: (1, [result])}))  # fmt: skip
    assert {"activity-answered", "events-arriving"} <= set(codes(findings))


def test_a_timer_in_the_future_says_until_when():
    history = [*started(), TimerCreatedEvent(event_id=0, fire_at=NOW + timedelta(minutes=3), timestamp=NOW)]
    finding = only(diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=instance(history=history))),
                   "timer-waiting")  # fmt: skip
    assert finding.title == f"instance {ID!r} is waiting for a timer until 2026-01-31T12:03:00Z (in 3 min)"


def test_an_overdue_timer_without_owner_is_an_error():
    history = [*started(), TimerCreatedEvent(event_id=0, fire_at=NOW - timedelta(minutes=2), timestamp=NOW)]
    finding = only(diagnose(hub(instance_id=ID, instance=instance(history=history))), "timer-overdue")
    assert finding.severity is Severity.ERROR and "2 min ago" in finding.title


def test_a_fired_timer_is_not_open():
    history = [*started(), TimerCreatedEvent(event_id=0, fire_at=NOW, timestamp=NOW),
               TimerFiredEvent(timer_id=0, fire_at=NOW, timestamp=NOW)]  # fmt: skip
    work = open_work(history)
    assert not work.timers and not work.activities


def test_an_idle_orchestration_waits_for_an_external_event():
    history = [*started(), TaskScheduledEvent(event_id=0, name="a", timestamp=NOW),
               TaskCompletedEvent(task_scheduled_id=0, timestamp=NOW), OrchestratorCompletedEvent()]  # fmt: skip
    finding = only(diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=instance(history=history))),
                   "waiting-for-event")  # fmt: skip
    assert f"dfx durable raise-event {ID}" in finding.fix


def test_an_orchestration_whose_last_action_called_an_entity_waits_for_it():
    history = [*started(), EventSentEvent(event_id=0, instance_id="@counter@k1", name="op", timestamp=NOW),
               OrchestratorCompletedEvent()]  # fmt: skip
    finding = only(diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=instance(history=history))),
                   "waiting-for-entity")  # fmt: skip
    assert "'@counter@k1'" in finding.title


def test_an_open_sub_orchestration_names_the_child_and_its_status():
    child = SubOrchestrationInstanceCreatedEvent(event_id=0, name="child_orch", instance_id="kid", timestamp=NOW)
    view = instance(history=[*started(), child], children={"kid": "Running"})
    finding = only(diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=view)), "child-running")
    assert "'child_orch' (kid)" in finding.title and "Running" in finding.detail and "dfx doctor kid" in finding.fix


def test_new_events_for_an_instance_on_an_unowned_queue_are_an_error():
    history = [*started(), OrchestratorCompletedEvent()]
    raised = message(Q, "EventRaised", name="Approval")
    finding = only(diagnose(hub(instance_id=ID, instance=instance(history=history), queues={Q: (1, [raised])})),
                   "events-no-owner")  # fmt: skip
    assert "EventRaised 'Approval'" in finding.detail


def test_a_failed_instance_shows_the_reason_and_suggests_rewind():
    history = [*started(), TaskScheduledEvent(event_id=0, name="charge", timestamp=NOW),
               TaskFailedEvent(task_scheduled_id=0, reason="card declined", timestamp=NOW)]  # fmt: skip
    view = instance("Failed", history, output="ValueError: card declined")
    finding = only(diagnose(hub(instance_id=ID, instance=view)), "instance-failed")
    assert finding.severity is Severity.ERROR and "ValueError: card declined" in finding.detail
    assert "'charge': card declined" in finding.detail and f"dfx durable rewind {ID}" in finding.fix


def test_a_suspended_instance_suggests_resume():
    finding = only(diagnose(hub(instance_id=ID, instance=instance("Suspended", output="pause"))), "instance-suspended")
    assert finding.severity is Severity.WARNING and finding.fix == f"`dfx durable resume {ID}`"


def test_a_completed_instance_is_clean():
    view = instance("Completed", completed=NOW - timedelta(minutes=4), output='"done"')
    findings = diagnose(hub(instance_id=ID, instance=view))
    assert is_clean(findings) and "instance-finished" in codes(findings)
    assert "after 60 s" in only(findings, "instance-finished").title


# -- the app's names ------------------------------------------------------------------------------------

APP = AppView("/app/function_app.py", orchestrators=("hello_orchestrator",), activities=("say_hello", "log_it"))


def test_an_activity_the_app_does_not_register_is_an_error_with_a_close_match():
    history = [*started(), TaskScheduledEvent(event_id=0, name="say_helo", timestamp=NOW)]
    findings = diagnose(hub(owner=f"{ME}:7071", instance_id=ID, instance=instance(history=history), app=APP))
    finding = only(findings, "name-not-registered")
    assert finding.title == "activity 'say_helo' is not registered by function_app.py (registered: say_hello, log_it)"
    assert "did you mean 'say_hello'?" in finding.fix and repr(ID) in finding.detail


def test_names_compare_case_insensitively():
    history = [*started("Hello_Orchestrator"), TaskScheduledEvent(event_id=0, name="SAY_HELLO", timestamp=NOW)]
    findings = diagnose(hub(owner=f"{ME}:7071", instance_id=ID,
                            instance=instance(history=history, name="Hello_Orchestrator"), app=APP))  # fmt: skip
    assert "name-not-registered" not in codes(findings)


def test_names_in_peeked_messages_are_checked_for_the_whole_hub():
    start = message(Q, "ExecutionStarted", instance="x", name="nope_orchestrator")
    signal = message(Q, "EventRaised", instance="@counter@k", name="op")
    findings = diagnose(hub(owner=f"{ME}:7071", queues={Q: (2, [start, signal])}, app=APP))
    titles = [f.title for f in findings if f.code == "name-not-registered"]
    assert any(t.startswith("orchestrator 'nope_orchestrator'") for t in titles)
    assert any(t.startswith("entity 'counter'") and "registered: none" in t for t in titles)
    entity = next(f for f in findings if f.title.startswith("entity"))
    assert entity.fix == "register it, e.g. `dfx new --template entity --name counter`"


def test_a_completed_instance_does_not_need_its_names():
    history = [*started("gone_orchestrator")]
    view = instance("Completed", history, name="gone_orchestrator")
    assert "name-not-registered" not in codes(diagnose(hub(instance_id=ID, instance=view, app=APP)))


def test_an_app_that_does_not_load_is_an_error_with_the_workers_message():
    app = AppView("/app/function_app.py", error="function_app.py:3: invalid syntax", hint="Fix the file.")
    finding = only(diagnose(hub(app=app)), "app-load-failed")
    assert (
        finding.title == "the app does not load: function_app.py:3: invalid syntax" and finding.fix == "Fix the file."
    )


# -- ordering and wording -------------------------------------------------------------------------------


def test_findings_come_most_severe_first():
    snapshot = hub(instance_id=ID, instance=instance("Suspended"), queues={Q: (1, [message(Q, dequeues=9)])})
    severities = [f.severity for f in diagnose(snapshot)]
    assert severities == sorted(severities, key=lambda s: s.rank) and severities[0] is Severity.ERROR


def test_moment_says_how_far_away():
    assert moment(NOW + timedelta(hours=2, minutes=5), NOW) == "2026-01-31T14:05:00Z (in 2 h 5 min)"
    assert moment(NOW - timedelta(seconds=30), NOW) == "2026-01-31T11:59:30Z (30 s ago)"


def test_finding_json_has_the_documented_keys():
    finding = Finding(Severity.WARNING, "x", "t", "d", "f")
    assert finding.to_json() == {"severity": "warning", "code": "x", "title": "t", "detail": "d", "fix": "f"}
    assert dataclasses.is_dataclass(finding)


def test_event_raised_is_not_open_work():
    history = [*started(), EventRaisedEvent(name="Approval", timestamp=NOW)]
    assert open_work(history) == open_work(started())
