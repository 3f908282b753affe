"""Routing engine: lead-type classification, skills, strategies and the assigner."""
