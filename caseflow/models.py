"""Import every model module so metadata (and Alembic) sees all tables."""
from caseflow.accounts.models import *  # noqa: F401,F403
from caseflow.cases.models import *  # noqa: F401,F403
from caseflow.core.audit import AuditEvent  # noqa: F401
from caseflow.core.models import *  # noqa: F401,F403
from caseflow.referrals.models import *  # noqa: F401,F403
from caseflow.sharing.models import *  # noqa: F401,F403
from caseflow.penalties.models import *  # noqa: F401,F403
from caseflow.inspections.models import *  # noqa: F401,F403
from caseflow.reminders.models import *  # noqa: F401,F403
from caseflow.actions.models import *  # noqa: F401,F403
from caseflow.api.idempotency import IdempotencyKey  # noqa: F401
from caseflow.evidence.models import *  # noqa: F401,F403
from caseflow.mediation.models import *  # noqa: F401,F403
from caseflow.reports.models import *  # noqa: F401,F403
