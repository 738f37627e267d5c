"""Call user functions: keyword arguments, ``Context`` and ``Out`` objects, threads for sync code."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

from dfx.emulator.logs import InvocationInfo, current_invocation
from dfx.emulator.worker.functions import IndexedFunction


class _TraceContext:
    """W3C trace context of an invocation (``Traceparent``/``Tracestate`` as the worker names them)."""

    def __init__(self, trace_parent: str = "", trace_state: str = "") -> None:
        self._parent, self._state = trace_parent, trace_state

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}

    Traceparent = trace_parent
    Tracestate = trace_state


class _RetryContext:
    """Retry state of an invocation; dfx retries through Durable Functions, not host retry policies."""

    def __init__(self, retry_count: int = 0, max_retry_count: int = 0) -> None:
        self._count, self._max = retry_count, max_retry_count

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The ``azure.functions.Context`` handed to a parameter named ``context``."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str, trace_parent: str = "") -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace = _TraceContext(trace_parent)
        self._retry = _RetryContext()
        self._local = threading.local()
        self._local.invocation_id = invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:  # duck-typed like the worker's own TraceContext
        return self._trace

    @property
    def retry_context(self) -> Any:
        return self._retry

    @property
    def thread_local_storage(self) -> Any:  # the worker hands out a threading.local instance
        return self._local


class OutValue(func.Out):
    """An output binding's value holder: the function calls ``set``, the host reads it afterwards."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


@dataclass
class Invocation:
    """What one call produced: the return value and each output binding's value (None when not set)."""

    invocation_id: str
    return_value: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)


class Invoker:
    """Runs user functions: ``async def`` on the host's loop, everything else in a bounded thread pool."""

    def __init__(self, thread_count: int, function_directory: str) -> None:
        self.pool = ThreadPoolExecutor(max_workers=thread_count, thread_name_prefix="dfx-worker")
        self._directory = function_directory

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def invoke(
        self,
        function: IndexedFunction,
        inputs: Mapping[str, Any],
        *,
        invocation_id: str | None = None,
        trace_parent: str = "",
    ) -> Invocation:
        """Call ``function`` with ``inputs`` (one value per IN binding); exceptions propagate unchanged."""
        invocation = Invocation(invocation_id or str(uuid.uuid4()))
        kwargs: dict[str, Any] = dict(inputs)
        outs = {p.name: OutValue() for p in function.parameters if p.is_out}
        kwargs.update(outs)
        if function.requires_context:
            kwargs["context"] = InvocationContext(
                invocation.invocation_id, function.name, self._directory, trace_parent
            )
        token = current_invocation.set(InvocationInfo(function.name, invocation.invocation_id))
        try:
            if function.is_async:
                result = await function.callable(**kwargs)
            else:
                call = functools.partial(contextvars.copy_context().run, function.callable, **kwargs)
                result = await asyncio.get_running_loop().run_in_executor(self.pool, call)
        finally:
            current_invocation.reset(token)
        if result is not None and function.return_binding_type is None:
            raise RuntimeError(f"function {function.name!r} without a $return binding returned a non-None value")
        invocation.return_value = result
        invocation.outputs = {name: out.get() for name, out in outs.items()}
        return invocation
