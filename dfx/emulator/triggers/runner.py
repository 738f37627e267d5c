"""Running a function that a trigger other than HTTP fired: its inputs, the invocation, its outputs, the log lines."""

from __future__ import annotations

import json
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from azure.functions import meta

from dfx.emulator.logs import HostConsole
from dfx.emulator.outputs import OutputWriter
from dfx.emulator.worker.functions import DURABLE_CLIENT, IndexedFunction
from dfx.emulator.worker.invoker import Invoker


class FunctionRunner:
    """Invokes trigger-fired functions as the host does, one invocation per call of ``fire``."""

    def __init__(
        self,
        invoker: Invoker,
        console: HostConsole,
        outputs: OutputWriter,
        client_binding: Callable[[IndexedFunction], str],
    ) -> None:
        self.invoker = invoker
        self.console = console
        self.outputs = outputs
        self.client_binding = client_binding

    def trigger_value(
        self, function: IndexedFunction, payload: str | bytes, data_type: str, metadata: dict[str, Any] | None
    ) -> Any:
        """The trigger argument, built by the worker's converter for the trigger type from the host's data."""
        converter = meta.get_binding_registry().get(function.trigger_type)
        fields = {name: meta.Datum(value, "string") if isinstance(value, str) else meta.Datum(json.dumps(value), "json")
                  for name, value in (metadata or {}).items() if value is not None}  # fmt: skip
        return converter.decode(meta.Datum(payload, data_type), trigger_metadata=fields)

    async def fire(
        self,
        function: IndexedFunction,
        payload: str | bytes,
        reason: str,
        *,
        data_type: str = "json",
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Run ``function`` once with the trigger data ``payload`` (and trigger ``metadata``); True when it
        succeeded (failures are logged)."""
        inputs: dict[str, Any] = {}
        for parameter in function.parameters:
            if parameter.is_out:
                continue
            binding = next(b for b in function.bindings if b.name == parameter.name)
            if binding is function.trigger:
                inputs[parameter.name] = self.trigger_value(function, payload, data_type, metadata)
            elif binding.type == DURABLE_CLIENT:
                inputs[parameter.name] = self.client_binding(function)
            else:
                inputs[parameter.name] = None
        invocation_id = str(uuid.uuid4())
        self.console.executing(function.name, invocation_id, reason)
        started = time.perf_counter()
        try:
            invocation = await self.invoker.invoke(function, inputs, invocation_id=invocation_id)
            await self.outputs.write(function, invocation.outputs)
        except Exception as exc:
            self.console.executed(function.name, invocation_id, False, (time.perf_counter() - started) * 1000)
            self.console.error(f"System.Exception: Result: Failure\nException: {type(exc).__name__}: {exc}")
            self.console.plain("".join(traceback.format_exception(exc)).rstrip(), "red")
            return False
        self.console.executed(function.name, invocation_id, True, (time.perf_counter() - started) * 1000)
        return True
