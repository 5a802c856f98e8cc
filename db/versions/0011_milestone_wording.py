"""milestone wording: a milestone's sentence made to stand alone as a post

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 08:20:00

`wording` is the text posts use; empty when the sentence cannot stand alone
(it leans on the one before), so nothing is proposed from it. Rows from before
keep NULL and are posted from their sentence as they were.
"""

from alembic import op
import sqlalchemy as sa


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wording", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("milestones", schema=None) as batch_op:
        batch_op.drop_column("wording")
