"""Delivery: the digest as a terminal table, Markdown and standalone HTML."""
