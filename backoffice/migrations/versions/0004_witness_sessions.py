"""Video witness sessions

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('witness_sessions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=False),
    sa.Column('business', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('staff', sa.String(length=64), nullable=True),
    sa.Column('notes_enc', sa.Text(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('snapshot_media_id', sa.String(length=32), nullable=True),
    sa.Column('face_distance', sa.Float(), nullable=True),
    sa.Column('face_decision', sa.String(length=16), nullable=True),
    sa.Column('face_error', sa.String(length=64), nullable=True),
    sa.Column('recordings', sa.JSON(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_witness_sessions_sender'), 'witness_sessions', ['sender'], unique=False)
    op.create_index(op.f('ix_witness_sessions_account_number'), 'witness_sessions', ['account_number'], unique=False)
    op.create_index(op.f('ix_witness_sessions_status'), 'witness_sessions', ['status'], unique=False)
    op.create_index(op.f('ix_witness_sessions_created_at'), 'witness_sessions', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_witness_sessions_created_at'), table_name='witness_sessions')
    op.drop_index(op.f('ix_witness_sessions_status'), table_name='witness_sessions')
    op.drop_index(op.f('ix_witness_sessions_account_number'), table_name='witness_sessions')
    op.drop_index(op.f('ix_witness_sessions_sender'), table_name='witness_sessions')
    op.drop_table('witness_sessions')
