"""The draw's population from a partial index of the active businesses; lz4 for its snapshot

ix_business_active_filter (agency, district, industry, risk class, credit code WHERE active
IS true, as the draw's query writes it), which PostgreSQL reads as an index-only scan,
replaces ix_business_filter (the same columns for every business: each candidate cost a
visit of the table to test `active`). PostgreSQL: the draw's population snapshot (~0.5 MB of
JSON for 20,000 businesses) is compressed with lz4 instead of pglz, which took longer than
the rest of the commitment.

Revision ID: aba0e3d6ec81
Revises: 92efbef01864
Create Date: 2026-11-23 00:37:55.476971

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'aba0e3d6ec81'
down_revision = '92efbef01864'
branch_labels = None
depends_on = None

COLUMNS = ['agency_id', 'district', 'industry', 'risk_class', 'credit_code']


def upgrade():
    # the new index first: the draw is never left without one
    op.create_index('ix_business_active_filter', 'business', COLUMNS, unique=False,
                    postgresql_where=sa.text('active IS true'), sqlite_where=sa.text('active IS 1'))
    op.drop_index('ix_business_filter', table_name='business')
    if op.get_bind().dialect.name == "postgresql":
        # values stored from now on; a server built without lz4 keeps pglz
        op.execute("DO $$ BEGIN "
                   "ALTER TABLE draw ALTER COLUMN population SET COMPRESSION lz4; "
                   "EXCEPTION WHEN feature_not_supported THEN NULL; END $$")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE draw ALTER COLUMN population SET COMPRESSION default")
    op.create_index('ix_business_filter', 'business', COLUMNS, unique=False)
    op.drop_index('ix_business_active_filter', table_name='business')
