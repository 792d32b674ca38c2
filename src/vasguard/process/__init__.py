"""The running platform: ``vasguard serve``'s one process (``main``), its scheduled jobs
(``scheduler``, ``jobs``) and its logs (``logs``)."""
