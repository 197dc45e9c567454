"""Set-based writes from Python rows: a whole batch as ONE JSON parameter.

psycopg's client-side binding (Django's default) quotes a list parameter in Python, element by
element (~5–15 µs a value): for a scan's batch of a few hundred rows that costs more than the
statement itself. A batch goes instead as one text parameter — a JSON array of objects, encoded
in C — that the statement reads with
``ROWS FROM (json_to_recordset(%s::json) AS (column type, …)) WITH ORDINALITY AS u(…, position)``;
``ORDER BY u.position`` keeps the caller's order (the id order of inserted rows, the lock order).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping


def json_rows(rows: Iterable[Mapping[str, object]]) -> str:
    """``rows`` (ints, strings, None, nested JSON values) as the parameter of ``json_to_recordset``."""
    return json.dumps(list(rows), ensure_ascii=False, separators=(",", ":"))
