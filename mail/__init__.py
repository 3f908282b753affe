"""Sending mail: the SMTP client the email channel and staff mail share, outside the core."""
