"""SQLModel tables, one module per aggregate. Importing this package registers every table."""

from credit.models.announcement import (
    Announcement,
    AnnouncementParty,
    AnnouncementRow,
    ColumnMapping,
    FirmNameKey,
    NameAlias,
    PartyState,
)
from credit.models.apikey import ApiKey, Department
from credit.models.assessment import FirmAssessment, Listing, ListingStatus, ListKind
from credit.models.audit import Actor, AuditEntry
from credit.models.base import utcnow
from credit.models.calendar import CalendarYear
from credit.models.check import ApiRate, CreditCheck
from credit.models.event import CreditEvent, EventStatus, ImportBatch
from credit.models.firm import Firm, FirmCreate
from credit.models.objection import Petition, PetitionKind, PetitionStatus
from credit.models.pilot_code import PilotCode
from credit.models.plan import Inspector, PlanFirm, SupervisionPlan
from credit.models.publication import (
    Publication,
    PublicationEntry,
    PublicationExport,
    PublicationSeal,
    PublicationWithdrawal,
)
from credit.models.ruleset import RuleSetVersion
from credit.models.signing import SigningKey
from credit.models.statistics import GradeHistory
from credit.models.user import Role, User
from credit.models.version import ChangeCounter, ConfigVersion
from credit.models.webhook import ChangeOutbox, WatchEntry, WebhookAttempt, WebhookDelivery, WebhookSubscription

__all__ = [
    "Actor",
    "Announcement",
    "AnnouncementParty",
    "AnnouncementRow",
    "ApiKey",
    "ApiRate",
    "AuditEntry",
    "CalendarYear",
    "ChangeCounter",
    "ChangeOutbox",
    "ColumnMapping",
    "ConfigVersion",
    "CreditCheck",
    "CreditEvent",
    "Department",
    "EventStatus",
    "Firm",
    "FirmAssessment",
    "FirmCreate",
    "FirmNameKey",
    "GradeHistory",
    "ImportBatch",
    "Inspector",
    "ListKind",
    "Listing",
    "ListingStatus",
    "NameAlias",
    "PartyState",
    "Petition",
    "PetitionKind",
    "PetitionStatus",
    "PilotCode",
    "PlanFirm",
    "Publication",
    "PublicationEntry",
    "PublicationExport",
    "PublicationSeal",
    "PublicationWithdrawal",
    "Role",
    "RuleSetVersion",
    "SigningKey",
    "SupervisionPlan",
    "User",
    "WatchEntry",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "utcnow",
]
