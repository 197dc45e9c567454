"""Aftercare writes: scheduling plans, reminders and escalation, visits, tickets, surveys.

Every write that may be replayed (event handler, beat job, retried task) is idempotent through a
database unique constraint, never through "check then insert" in Python alone.

One module per concern; import the concern (``from aftercare.services import visits``), this package
re-exports nothing. Event subscribers live in ``aftercare/handlers.py``.
"""
