"""Jinja2 templates, static assets of the console and the embeddable web-chat widget."""
