"""Write the history of one completed 'hello' orchestration into Azurite, then show it with dfx inspect.

Until `dfx start` can host an app, this is what `make run` serves: proof that dfx writes exactly the rows the
Azure Storage provider writes. Run: python samples/storage_demo/demo.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from dfx.emulator import azurite
from dfx.emulator.storage import TaskHub, development_storage
from dfx.emulator.storage.instances_table import checkpoint_columns
from dfx.model.history import (
    ExecutionCompletedEvent,
    ExecutionStartedEvent,
    OrchestrationInstance,
    OrchestratorCompletedEvent,
    OrchestratorStartedEvent,
    TaskCompletedEvent,
    TaskScheduledEvent,
    utcnow,
)

HUB = "DemoHub"
STATE = Path(".dfx")


async def write_hello(instance_id: str) -> None:
    execution_id = uuid.uuid4().hex
    t0 = utcnow()
    async with TaskHub(development_storage(), HUB) as hub:
        await hub.create()
        await hub.instances.write_pending(
            instance_id=instance_id, name="hello_orchestrator", execution_id=execution_id,
            input='"\\"Tokyo\\""', created_time=t0,
        )  # fmt: skip
        episodes = [
            [
                OrchestratorStartedEvent(timestamp=t0 + timedelta(milliseconds=5)),
                ExecutionStartedEvent(
                    orchestration_instance=OrchestrationInstance(instance_id, execution_id),
                    name="hello_orchestrator",
                    input='"\\"Tokyo\\""',
                    generation=0,
                    is_played=True,
                    timestamp=t0,
                ),
                TaskScheduledEvent(event_id=0, name="say_hello", timestamp=t0 + timedelta(milliseconds=9)),
                OrchestratorCompletedEvent(timestamp=t0 + timedelta(milliseconds=10)),
            ],
            [
                OrchestratorStartedEvent(timestamp=t0 + timedelta(milliseconds=40)),
                TaskCompletedEvent(
                    task_scheduled_id=0,
                    result='"Hello Tokyo!"',
                    is_played=True,
                    timestamp=t0 + timedelta(milliseconds=35),
                ),
                ExecutionCompletedEvent(event_id=1, result='"Hello Tokyo!"', timestamp=t0 + timedelta(milliseconds=42)),
                OrchestratorCompletedEvent(timestamp=t0 + timedelta(milliseconds=43)),
            ],
        ]
        etag, index = None, 0
        for events in episodes:
            appended = await hub.history.append(instance_id, execution_id, events, start_index=index, etag=etag)
            etag, index = appended.etag, index + len(events)
            update = checkpoint_columns(events, execution_id=execution_id, custom_status=None, task_hub=HUB)
            await hub.instances.write_checkpoint(instance_id, update, appended.offloaded)


def main() -> int:
    account = development_storage()
    if not azurite.is_running(account):
        process = azurite.start_azurite(azurite.AzuriteOptions(location=(STATE / "azurite").resolve()),
                                        log_path=STATE.resolve() / "azurite.log")  # fmt: skip
        azurite.write_state(STATE, process)
        print(f"Started Azurite (pid {process.pid}); stop it with: dfx azurite stop")
    instance_id = uuid.uuid4().hex
    asyncio.run(write_hello(instance_id))
    dfx = [sys.executable, "-m", "dfx"]
    subprocess.run([*dfx, "inspect", "history", instance_id, "--task-hub", HUB], check=True)
    subprocess.run([*dfx, "inspect", "instances", "--task-hub", HUB, "--top", "5"], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
