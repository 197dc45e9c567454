"""Idempotent POST endpoints: the same ``Idempotency-Key`` gets the same response, nothing new.

Use from any API view, inside the tenant's context and the request's transaction::

    return idempotent_response(request, tenant=tenant, scope="customers.intake", handler=create)

See :mod:`crm.idempotency.services`.
"""
