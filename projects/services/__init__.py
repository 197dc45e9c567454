"""Project writes. Other apps react to what happens here through crm.events (never imports).

One module per concern; import the concern (``from projects.services import stages``), this package
re-exports nothing.
"""
