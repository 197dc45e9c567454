"""Run a real Celery worker (in-process thread, real Redis broker) for tests — never eager mode."""

from __future__ import annotations

from contextlib import contextmanager

from celery.contrib.testing.worker import start_worker

from crm.celery import app


@contextmanager
def real_worker(concurrency: int = 1, pool: str = "solo"):
    app.control.purge()
    with start_worker(app, pool=pool, concurrency=concurrency, perform_ping_check=False, shutdown_timeout=30):
        yield app
