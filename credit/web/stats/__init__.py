"""Supervision statistics pages: the leadership dashboard, the 首席质量官 registry, the public page."""
