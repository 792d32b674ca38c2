"""vasguard: consent, reminders, 0000 and an audited bill run for value-added services."""

__version__ = "0.1.0"
