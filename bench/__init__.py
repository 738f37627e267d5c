"""Measure dfx's storage layer against the raw rates of the Azurite it runs on; ``make bench`` runs it."""
