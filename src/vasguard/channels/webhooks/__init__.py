"""Webhooks: the partner change feed pushed to the URL each partner registered."""
