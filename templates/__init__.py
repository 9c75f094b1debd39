"""Jinja2 templates shipped with sluice: builtin metric queries and notification messages."""
