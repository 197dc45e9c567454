"""Business writes of the customers module: customers, leads and their SLA, follow-ups, the pool.

Every service takes ``tenant`` first, runs in one transaction and raises
``ValidationError({"field": "中文消息"})`` for bad input, so nothing is half-written.

One module per concern; import the concern (``from customers.services import leads``), this package
re-exports nothing.
"""
