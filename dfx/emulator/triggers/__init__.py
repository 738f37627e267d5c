"""The Storage-based triggers the Functions host runs besides HTTP: timer, queue and blob."""
