"""The string a ``durableClient`` parameter receives: hub name, webhook URLs and the RPC base (host-protocol §4.1)."""

from __future__ import annotations

import json
from urllib.parse import quote

WEBHOOK_PATH = "runtime/webhooks/durabletask"
RPC_PATH = "durabletask"
WAKE_PATH = "admin/dfx/wake"
"""``POST /admin/dfx/wake?queue=NAME`` (loopback only): a message waits on a queue this host owns; poll it now."""
DEFAULT_CONNECTION = "Storage"
INSTANCE_PLACEHOLDER = "INSTANCEID"


def client_binding_json(
    origin: str,
    task_hub: str,
    *,
    rpc_base_url: str,
    connection_name: str | None = None,
    system_key: str | None = None,
) -> str:
    """The binding JSON, with Newtonsoft's property order and nulls, for a host reachable at ``origin``."""
    base = f"{origin.rstrip('/')}/{WEBHOOK_PATH}"
    code = f"code={system_key}" if system_key else ""
    hub_query = f"taskHub={quote(task_hub, safe='')}&connection={quote(connection_name or DEFAULT_CONNECTION, safe='')}"
    common = f"{hub_query}&{code}" if code else hub_query
    instance = f"{base}/instances/{INSTANCE_PLACEHOLDER}"
    with_code = f"?{code}" if code else ""
    and_code = f"&{code}" if code else ""
    payload = {
        "taskHubName": task_hub,
        "connectionName": connection_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]{with_code}",
            "createAndWaitOnNewInstancePostUri": (
                f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
                f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}{and_code}"
            ),
        },
        "managementUrls": {
            "id": INSTANCE_PLACEHOLDER,
            "statusQueryGetUri": f"{instance}?{common}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{common}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{common}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{common}",
            "purgeHistoryDeleteUri": f"{instance}?{common}",
            "restartPostUri": f"{instance}/restart?{common}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{common}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{common}",
        },
        "baseUrl": base,
        "requiredQueryStringParameters": code,
        "rpcBaseUrl": rpc_base_url,
        "httpBaseUrl": None,
    }
    return json.dumps(payload, separators=(",", ":"))
