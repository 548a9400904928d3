"""Reconciling: everything that talks to the API server, split by concern (apply, status, delete), around the
pure renderer. Handlers (handlers.py) only call into here."""
