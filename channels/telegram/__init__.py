"""Telegram: bots on webhook or polling (wired in `feature.py`). See docs/telegram.md."""
