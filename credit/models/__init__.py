"""SQLModel tables, one module per aggregate. Importing this package registers every table."""

from credit.models.audit import Actor, AuditEntry
from credit.models.base import utcnow
from credit.models.firm import Firm, FirmCreate
from credit.models.user import Role, User

__all__ = ["Actor", "AuditEntry", "Firm", "FirmCreate", "Role", "User", "utcnow"]
