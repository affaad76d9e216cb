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
from credit.models.user import Role, User
from credit.models.version import ChangeCounter, ConfigVersion

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
    "utcnow",
]
