"""Images in staff replies: outbound_messages.media_id

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 01:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages') as batch:
        batch.add_column(sa.Column('media_id', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages') as batch:
        batch.drop_column('media_id')
