"""zdte: terminal monitor for same-day-expiry (0DTE) options flow."""

__version__ = "0.1.0"
