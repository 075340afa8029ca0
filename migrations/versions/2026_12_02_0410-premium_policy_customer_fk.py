"""premiums: policies.customer_id references customers.id (ON DELETE SET NULL)

Revision ID: 0005_premium_policy_customer_fk
Revises: 0005_premiums
Create Date: 2026-12-02 04:10:00

The policyholder is a customer of the customers domain. Deleting the customer keeps the policy
(its premiums, collections and audit trail are the captive's records) and forgets the link. A
link that points at no customer of the policy's own organisation is cleared before the key is
added: it could only be wrong.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0005_premium_policy_customer_fk'
down_revision: str | Sequence[str] | None = '0005_premiums'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = '0002_customers'


def upgrade() -> None:
    op.execute("UPDATE policies SET customer_id = NULL WHERE customer_id IS NOT NULL AND NOT EXISTS "
               "(SELECT 1 FROM customers c WHERE c.id = policies.customer_id "
               "AND c.org_id = policies.org_id)")
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_policies_customer_id_customers'), 'customers',
                                    ['customer_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_policies_customer_id_customers'), type_='foreignkey')
