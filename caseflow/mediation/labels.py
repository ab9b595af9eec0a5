"""User-facing words of assistance and mediation, translated by Flask-Babel."""
from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    "received": _l("Registered, awaiting acceptance"),
    "accepted": _l("Accepted, awaiting a mediator"),
    "mediating": _l("In mediation"),
    "rejected": _l("Not accepted"),
    "agreement": _l("Closed with agreement"),
    "no_agreement": _l("Closed without agreement"),
    "withdrawn": _l("Withdrawn"),
    "served": _l("Assistance given"),
}
ACTION_LABELS = {
    "accept": _l("Accept"), "reject": _l("Do not accept"), "assign": _l("Assign a mediator"),
    "agreement": _l("Close with agreement"), "no_agreement": _l("Close without agreement"),
    "withdraw": _l("Record withdrawal"), "serve": _l("Assistance given"),
}
CLOCK_LABELS = {
    "accept": _l("Accept or reject (7 working days)"),
    "mediation": _l("Mediation ends (45 working days after acceptance)"),
    "notify": _l("Tell the parties (7 working days after the end)"),
}
KIND_LABELS = {"assistance": _l("Rights-protection assistance"), "mediation": _l("Mediation")}
CHANNEL_LABELS = {"counter": _l("At the counter"), "phone": _l("By phone"), "online": _l("Online form")}
REQUESTER_LABELS = {"rights_holder": _l("Rights holder"), "business": _l("Business"),
                    "citizen": _l("Citizen")}
SERVICE_LABELS = {"legal_consultation": _l("Legal consultation"),
                  "expert_opinion": _l("Expert opinion on infringement"),
                  "evidence_help": _l("Help with evidence")}
MEDIATOR_KIND_LABELS = {"professional": _l("Professional"), "volunteer": _l("Volunteer")}
