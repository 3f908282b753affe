"""Email: IMAP in, SMTP out, threading (wired in `feature.py`). See docs/email.md."""
