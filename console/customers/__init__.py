"""Customer 360: contact cards, merge, touchpoints, templates, surveys, follow-ups, reports."""
