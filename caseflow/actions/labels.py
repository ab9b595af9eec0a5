"""User-facing words of joint actions, translated by Flask-Babel."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTION_KIND_LABELS = {
    "special": _l("Special action"),
    "joint": _l("Joint enforcement"),
    "g60": _l("G60 cross-region action"),
}
ACTION_STATE_LABELS = {
    "open": _l("Under way"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
TASK_STATE_LABELS = {
    "assigned": _l("Assigned"),
    "accepted": _l("Accepted"),
    "declined": _l("Declined"),
    "in_progress": _l("In progress"),
    "reported": _l("Reported"),
    "verified": _l("Verified"),
    "cancelled": _l("Cancelled"),
}
TASK_ACTION_LABELS = {
    "accept": _l("Accept the task"),
    "decline": _l("Decline the task"),
    "start": _l("Start work"),
    "report": _l("Report progress"),
    "verify": _l("Verify the report"),
    "return": _l("Return the report"),
    "reassign": _l("Reassign"),
    "cancel": _l("Cancel the task"),
}
TARGET_KIND_LABELS = {
    "market": _l("Market"),
    "platform": _l("E-commerce platform or shop"),
    "trademark": _l("Listed key trademark"),
    "other": _l("Other"),
}
EVENT_LABELS = {
    "create": _l("Action created"),
    "edit": _l("Action edited"),
    "target_add": _l("Target added"),
    "target_remove": _l("Target removed"),
    "task_assign": _l("Task assigned"),
    "task_reassign": _l("Task reassigned"),
    "task_accept": _l("Task accepted"),
    "task_decline": _l("Task declined"),
    "task_start": _l("Work started"),
    "task_cancel": _l("Task cancelled"),
    "task_report": _l("Progress reported"),
    "task_verify": _l("Report verified"),
    "task_return": _l("Report returned"),
    "complete": _l("Action completed"),
    "cancel": _l("Action cancelled"),
}
FIGURE_LABELS = {
    "places_inspected": _l("Places inspected"),
    "cases_filed": _l("Cases filed"),
    "goods_seized": _l("Goods seized (items)"),
    "goods_value": _l("Value of goods (yuan)"),
    "referrals": _l("Referrals to the police"),
}
