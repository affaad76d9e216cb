"""SQLModel tables, one module per aggregate. Importing this package registers every table."""

from credit.models.apikey import ApiKey, Department
from credit.models.audit import Actor, AuditEntry
from credit.models.base import utcnow
from credit.models.event import CreditEvent, EventStatus, ImportBatch
from credit.models.firm import Firm, FirmCreate
from credit.models.user import Role, User

__all__ = [
    "Actor",
    "ApiKey",
    "AuditEntry",
    "CreditEvent",
    "Department",
    "EventStatus",
    "Firm",
    "FirmCreate",
    "ImportBatch",
    "Role",
    "User",
    "utcnow",
]
