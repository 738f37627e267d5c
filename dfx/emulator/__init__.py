"""The emulator: what the Functions host, the Durable Functions extension and the Python worker do."""
