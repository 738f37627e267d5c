"""``dfx doctor``: why an instance is stuck or a task hub unhealthy, read from storage beside the runtime.

``diagnosis`` holds the rules (pure functions over a snapshot); ``checkup`` reads what they need. The host
never imports this package.
"""
