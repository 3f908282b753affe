"""Default configuration shipped with Lines (read through importlib.resources)."""
