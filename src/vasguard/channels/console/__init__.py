"""The web console (``/console``): the operator's staff log in with their API key.

Server-rendered pages (Jinja2) with a little JavaScript of its own, served by the same
FastAPI app as the API but outside its OpenAPI schema: pages are not API.
"""
