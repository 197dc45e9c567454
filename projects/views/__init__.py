"""Browser pages: project list, board, detail with tabs, and the public customer progress page.

One module per concern (``projects/urls.py`` imports each); this package re-exports nothing.
"""
