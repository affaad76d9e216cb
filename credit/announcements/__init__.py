"""Spot-check announcements (监督抽查/抽检结果公告) as published: their table layouts, the firm names they
carry and how those names are normalised. Pure: no session, no Flask (the import is in credit.services)."""
