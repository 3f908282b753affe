"""Web chat: the widget's WebSocket protocol, uploads and the embeddable script (wired in `feature.py`)."""
