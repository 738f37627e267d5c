"""dfx: a local runtime for Azure Durable Functions written in Python.

The public face is the ``dfx`` command; the importable pieces live under
``dfx.emulator`` (host, engine, storage) and ``dfx.cli``.
"""

__version__ = "0.1.0"
