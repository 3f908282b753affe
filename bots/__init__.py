"""Knowledge base, retrieval, auto-answer and operator suggestions."""
