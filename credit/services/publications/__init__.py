"""Publications (发布): immutable, numbered snapshots of both lists for one period (SPEC §2).

A publication copies every listing in force on its snapshot date (default: the period's last day) with
the firm's particulars, the reason and a readable basis, so that later changes to a firm or a listing
never alter what was published. Invariants: one publication per number (the unique index decides, even
between two processes), one transaction per publication (a crash half-way leaves nothing), and the
database refuses to change or delete a publication once written (migration 0004).

The package is split along its seams: `periods` (period names and bounds), `lock` (serialising writers),
`reading` (the archive, corrections, withdrawals), `visibility` (what the public may still see),
`snapshots` (publishing), `exports` (CSV / XLSX / JSON, written once and stored). Every name stays
importable from `credit.services.publications`."""

from credit.services.publications.exports import (
    EXPORT_LAYOUT,
    FORMATS,
    KIND_LABELS,
    entry_json,
    export_bytes,
    export_tag,
    publication_csv,
    publication_json,
    publication_summary,
    publication_xlsx,
    store_exports,
    stored_export,
    withdrawal_json,
)
from credit.services.publications.lock import (
    take_writer_lock,
)
from credit.services.publications.periods import (
    MONTHLY,
    PERIOD_KINDS,
    QUARTERLY,
    PublicationError,
    last_ended_period,
    next_period,
    period_bounds,
    period_kind,
    period_of,
    periods_to_publish,
)
from credit.services.publications.reading import (
    PublicationDetail,
    correction_links,
    get_publication,
    latest_publication,
    list_publications,
    numbers_by_id,
    recent_withdrawals,
    seal_of,
    seals,
    withdraw_publication,
    withdrawal_of,
    withdrawals,
)
from credit.services.publications.snapshots import (
    INSERT_CHUNK,
    Published,
    in_force_on,
    publish_correction,
    publish_period,
)
from credit.services.publications.visibility import (
    ended_early,
    entries_page,
    months_listed,
    public_counts,
    public_state,
    publication_detail,
    shown_publicly,
)

__all__ = [
    "EXPORT_LAYOUT",
    "FORMATS",
    "INSERT_CHUNK",
    "KIND_LABELS",
    "MONTHLY",
    "PERIOD_KINDS",
    "QUARTERLY",
    "PublicationDetail",
    "PublicationError",
    "Published",
    "correction_links",
    "ended_early",
    "entries_page",
    "entry_json",
    "export_bytes",
    "export_tag",
    "get_publication",
    "in_force_on",
    "last_ended_period",
    "latest_publication",
    "list_publications",
    "months_listed",
    "next_period",
    "numbers_by_id",
    "period_bounds",
    "period_kind",
    "period_of",
    "periods_to_publish",
    "public_counts",
    "public_state",
    "publication_csv",
    "publication_detail",
    "publication_json",
    "publication_summary",
    "publication_xlsx",
    "publish_correction",
    "publish_period",
    "recent_withdrawals",
    "seal_of",
    "seals",
    "shown_publicly",
    "store_exports",
    "stored_export",
    "take_writer_lock",
    "withdraw_publication",
    "withdrawal_json",
    "withdrawal_of",
    "withdrawals",
]
