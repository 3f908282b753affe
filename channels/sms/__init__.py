"""SMS: gateway providers, phone identities, segments (wired in `feature.py`). See docs/sms.md."""
