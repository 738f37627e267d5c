"""Host keys for ``--enforce-keys``: generated once per app under ``.dfx/keys.json`` and checked per route."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

KEYS_FILE = "keys.json"


def _new_key() -> str:
    return secrets.token_urlsafe(40)


@dataclass(frozen=True)
class HostKeys:
    """The master key, the ``default`` function key and the durable extension's system key."""

    master: str
    function: str
    durable_system: str

    def allows(self, auth_level: str, supplied: str | None) -> bool:
        """Whether ``supplied`` (from ``code=`` or ``x-functions-key``) opens a route of ``auth_level``."""
        level = auth_level.upper()
        if level == "ANONYMOUS":
            return True
        if not supplied:
            return False
        accepted = [self.master] if level == "ADMIN" else [self.master, self.function]
        return any(hmac.compare_digest(supplied, key) for key in accepted)

    def allows_system(self, supplied: str | None) -> bool:
        """Whether ``supplied`` opens the durable webhooks (system key or master key)."""
        return bool(supplied) and any(
            hmac.compare_digest(str(supplied), key) for key in (self.master, self.durable_system)
        )


def load_or_create_keys(state_dir: Path) -> HostKeys:
    """The app's keys from ``state_dir/keys.json``, created with fresh random keys the first time."""
    path = state_dir / KEYS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return HostKeys(data["masterKey"], data["functionKeys"]["default"], data["systemKeys"]["durabletask_extension"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    keys = HostKeys(_new_key(), _new_key(), _new_key())
    state_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "masterKey": keys.master,
        "functionKeys": {"default": keys.function},
        "systemKeys": {"durabletask_extension": keys.durable_system},
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return keys
