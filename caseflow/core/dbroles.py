"""The PostgreSQL role the application runs as (等保 8.1.4.3 c: audit records protected).

Deployments use two roles: the owner, which runs `flask db upgrade` and the retention
command, and the application role, which the web workers and the scheduler connect as. The
application role may read and write the tables but can never UPDATE, DELETE or TRUNCATE
audit records (the triggers refuse those for every role as well; the grants make it hold
even if a trigger were dropped by mistake) and cannot change the schema. Run
`flask caseflow grant-app-role ROLE` as the owner after every upgrade (new tables).
"""
from __future__ import annotations

import re

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: tables whose rows the application may only add and read
APPEND_ONLY = ("audit_event",)


def app_role_statements(role: str, schema: str = "public") -> list[str]:
    if not _ROLE.match(role):
        raise ValueError("role names are lower-case letters, digits and _ (at most 63)")
    if not _ROLE.match(schema):
        raise ValueError("bad schema name")
    out = [
        f'REVOKE CREATE ON SCHEMA "{schema}" FROM PUBLIC',
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"',
        f'REVOKE INSERT, UPDATE, DELETE ON "{schema}".alembic_version FROM "{role}"',
    ]
    for table in APPEND_ONLY:
        out.append(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{schema}".{table} FROM "{role}"')
    return out
