"""book job indexes: a customer without a collection officer costs no officer index entry

Revision ID: 0018_book_job_indexes
Revises: 0014_web_sessions
Create Date: 2026-12-06 23:00:00

The book's job creates a customer for every new account of an import (200,000 for a large
first upload), none of them with an officer. `ix_customers_org_id_officer` took an entry for each
(org, NULL), about a tenth of the customers' insert on PostgreSQL (docs/benchmarks.md, issue 21). Every
query it serves asks for one officer's customers (`assigned_collection_officer_id = :user`), which
a partial index over assigned customers answers alike; queries by organisation alone have
`uq_customers_org_id_customer_code`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_book_job_indexes'
down_revision: str | Sequence[str] | None = '0017_import_profiles'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = 'ix_customers_org_id_officer'
COLUMNS = ['org_id', 'assigned_collection_officer_id']
ASSIGNED = sa.text('assigned_collection_officer_id IS NOT NULL')


def upgrade() -> None:
    op.drop_index(INDEX, table_name='customers')
    op.create_index(INDEX, 'customers', COLUMNS, postgresql_where=ASSIGNED, sqlite_where=ASSIGNED)


def downgrade() -> None:
    op.drop_index(INDEX, table_name='customers')
    op.create_index(INDEX, 'customers', COLUMNS)
