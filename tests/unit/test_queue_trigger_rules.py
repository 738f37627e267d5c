"""Queue-trigger rules: host.json extensions.queues, message bodies by encoding, queue names, back-off."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from dfx.emulator.config import ConfigError, QueueOptions, load_settings
from dfx.emulator.triggers.queue import MIN_POLL, QueueListener, message_body, queue_source
from dfx.emulator.worker.functions import Binding, IndexedFunction


def settings_with(tmp_path: Path, queues: dict) -> QueueOptions:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"queues": queues}}))
    return load_settings(tmp_path, environ={}).queues


def test_queue_options_default_as_the_extension_does(tmp_path: Path):
    options = settings_with(tmp_path, {})
    assert (options.batch_size, options.max_dequeue_count, options.visibility_timeout) == (16, 5, 0.0)
    assert options.max_polling_interval == 60.0 and options.message_encoding == "base64"
    tuned = settings_with(tmp_path, {
        "batchSize": 4, "newBatchThreshold": 2, "maxPollingInterval": "00:00:02", "visibilityTimeout": "00:00:10",
        "maxDequeueCount": 2, "messageEncoding": "None",
    })  # fmt: skip
    assert tuned == QueueOptions(4, 2, 2.0, 10.0, 2, "none")


@pytest.mark.parametrize(
    ("queues", "fragment"),
    [({"batchSize": 64}, "at most 32"), ({"maxPollingInterval": "00:00:00.05"}, "at least 100 ms"),
     ({"messageEncoding": "utf8"}, "base64 or none"), ({"maxDequeueCount": 0}, "at least 1")],
)  # fmt: skip
def test_bad_queue_options_name_the_setting(tmp_path: Path, queues: dict, fragment: str):
    with pytest.raises(ConfigError, match=fragment) as info:
        settings_with(tmp_path, queues)
    assert "extensions.queues" in info.value.message


def test_message_bodies_by_encoding():
    assert message_body(base64.b64encode(b"hello").decode(), "base64") == ("hello", "string")
    assert message_body("hello", "none") == ("hello", "string")
    assert message_body("not base64!", "base64") == ("not base64!", "string")
    assert message_body(base64.b64encode(b"\xff\xfe").decode(), "base64") == (b"\xff\xfe", "bytes")


def function(queue_name: str, connection: str | None = None) -> IndexedFunction:
    settings = {"queueName": queue_name, **({"connection": connection} if connection else {})}
    trigger = Binding("msg", "queueTrigger", "IN", settings=settings)
    return IndexedFunction("f", lambda msg: None, trigger, (trigger,), (), False, False, None)


def test_queue_names_resolve_settings_and_are_checked():
    assert queue_source(function("Orders"), {}) == ("AzureWebJobsStorage", "orders")
    assert queue_source(function("%Q%", "Other"), {"Q": "jobs-in"}) == ("Other", "jobs-in")
    for bad in ("a", "two--dashes", "%MISSING%", "-x-"):
        with pytest.raises(ConfigError):
            queue_source(function(bad), {})


def test_empty_polls_back_off_from_100_ms_to_the_polling_interval():
    options = QueueOptions(max_polling_interval=2.0)
    listener = QueueListener(function("q"), "q", None, options, None, asyncio.Event())  # type: ignore[arg-type]
    delays = [listener._backoff(n) for n in range(1, 12)]
    assert MIN_POLL * 1.7 <= delays[0] <= MIN_POLL * 2.3
    assert delays[-1] == 2.0 and delays == sorted(delays)
