"""The durable event model every layer shares: typed history events and their wire encodings.

It sits below both ``dfx.emulator.storage`` (which stores events in the provider's tables and queues) and
``dfx.emulator.durable`` (which decides them), so storage needs nothing from the engine.
"""
