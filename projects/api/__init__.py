"""REST API of projects: thin viewsets calling services; stage changes only through actions.

One module per concern (the router in ``projects/api_urls.py`` imports each); this package re-exports
nothing.
"""
