"""The case list's shared half from the grants alone: each grant carries its case's creation
time and state, kept by a trigger on case_record, and an index on the agency's unrevoked grants
newest case first (see caseflow/sharing/models.py)

Revision ID: 5d1e0c7a9b42
Revises: aba0e3d6ec81
Create Date: 2026-11-23 01:10:00

"""
from alembic import op
import sqlalchemy as sa

from caseflow.core.db import UTCDateTime


# revision identifiers, used by Alembic.
revision = '5d1e0c7a9b42'
down_revision = 'aba0e3d6ec81'
branch_labels = None
depends_on = None

# the DDL is written out here (not imported) so that this migration never changes
PG_TRIGGER = [
    """CREATE FUNCTION share_grant_case_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE share_grant SET case_state = NEW.state WHERE case_id = NEW.id;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER share_grant_case_state AFTER UPDATE OF state ON case_record
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION share_grant_case_state()""",
]
PG_DROP = ["DROP TRIGGER IF EXISTS share_grant_case_state ON case_record",
           "DROP FUNCTION IF EXISTS share_grant_case_state()"]
SQLITE_TRIGGER = [
    """CREATE TRIGGER share_grant_case_state AFTER UPDATE OF state ON case_record
  FOR EACH ROW WHEN OLD.state IS NOT NEW.state
  BEGIN UPDATE share_grant SET case_state = NEW.state WHERE case_id = NEW.id; END""",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS share_grant_case_state"]


def upgrade():
    with op.batch_alter_table('share_grant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('case_created_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('case_state', sa.String(length=32), nullable=True))
    op.execute("UPDATE share_grant SET "
               "case_created_at = (SELECT c.created_at FROM case_record c WHERE c.id = share_grant.case_id), "
               "case_state = (SELECT c.state FROM case_record c WHERE c.id = share_grant.case_id)")
    with op.batch_alter_table('share_grant', schema=None) as batch_op:
        batch_op.alter_column('case_created_at', existing_type=UTCDateTime(), nullable=False)
        batch_op.alter_column('case_state', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index('ix_share_grant_listed', ['agency_id', 'case_created_at', 'case_id'],
                              unique=False, postgresql_include=['case_state', 'expires_at'],
                              postgresql_where=sa.text('revoked_at IS NULL'),
                              sqlite_where=sa.text('revoked_at IS NULL'))
    for stmt in PG_TRIGGER if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGER:
        op.execute(stmt)


def downgrade():
    for stmt in PG_DROP if op.get_bind().dialect.name == "postgresql" else SQLITE_DROP:
        op.execute(stmt)
    with op.batch_alter_table('share_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_share_grant_listed', postgresql_where=sa.text('revoked_at IS NULL'),
                            sqlite_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_column('case_state')
        batch_op.drop_column('case_created_at')
