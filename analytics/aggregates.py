"""SQL aggregates the panels need that Django lacks: percentiles and day spans.

PostgreSQL has ``percentile_cont``; on SQLite (the zero-setup demo) the same aggregate is
registered on each new connection, so every panel stays a single aggregation query on both.
"""

from __future__ import annotations

import math

from django.db.backends.signals import connection_created
from django.db.models import Aggregate, F, FloatField, Func


class Percentile(Aggregate):
    """``percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)``: linear interpolation between ranks."""

    function = "percentile_cont"
    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        self.fraction = float(fraction)
        self.template = f"percentile_cont({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        super().__init__(expression, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        clone = self.copy()
        clone.template = f"analytics_percentile(%(expressions)s, {self.fraction!r})"
        return super(Percentile, clone).as_sql(compiler, connection, **extra_context)


def percentile_sql(expression: str, fraction: float, vendor: str) -> str:
    """:class:`Percentile` as SQL text, for statements written by hand (same function, same result)."""
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be within [0, 1]")
    if vendor == "sqlite":
        return f"analytics_percentile({expression}, {float(fraction)!r})"
    return f"percentile_cont({float(fraction)!r}) WITHIN GROUP (ORDER BY {expression})"


class Median(Percentile):
    def __init__(self, expression, **extra):
        super().__init__(expression, 0.5, **extra)


class EpochDays(Func):
    """Days between two timestamps (float): ``(end - start)`` in days."""

    output_field = FloatField()

    def __init__(self, end, start, **extra):
        super().__init__(
            F(end) if isinstance(end, str) else end, F(start) if isinstance(start, str) else start, **extra
        )

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, and sorting a
            # year of numeric values for each median cost twice as much for the same result.
            template="(date_part('epoch', %(expressions)s) / 86400.0)",
            arg_joiner=" - ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s))",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class _SqlitePercentile:
    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        if value is not None:
            self.values.append(float(value))
            self.fraction = float(fraction)

    def finalize(self):
        if not self.values:
            return None
        ordered = sorted(self.values)
        position = (len(ordered) - 1) * self.fraction
        low, high = math.floor(position), math.ceil(position)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _register_sqlite(sender, connection, **kwargs) -> None:  # noqa: ARG001 - signal receiver signature
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("analytics_percentile", 2, _SqlitePercentile)


connection_created.connect(_register_sqlite, dispatch_uid="analytics_sqlite_percentile")
