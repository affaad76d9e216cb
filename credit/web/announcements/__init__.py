"""Spot-check announcements in the browser: upload with a preview, the confirmation queue, the referral
list and saved column mappings."""
