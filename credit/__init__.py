"""质量信用红黑榜 — the enterprise quality-credit red/black list system."""

__version__ = "0.1.0"
