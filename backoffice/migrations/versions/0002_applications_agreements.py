"""Applications (history, outbox), agreements (readings, signed PDFs), password credentials

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:05:05.598016
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agreement_readings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('agreed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('nonce')
    )
    with op.batch_alter_table('agreement_readings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agreement_readings_account_number'), ['account_number'], unique=False)

    op.create_table('applications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('business', sa.String(length=32), nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('open_key', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('needs_manual_review', sa.Boolean(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_applications_account_number'), ['account_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_business'), ['business'], unique=False)
        batch_op.create_index(batch_op.f('ix_applications_status'), ['status'], unique=False)

    op.create_table('password_credentials',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('hash', sa.String(length=128), nullable=False),
    sa.Column('must_change', sa.Boolean(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_number', 'kind', name='uq_password_credentials_account_kind')
    )
    with op.batch_alter_table('password_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_credentials_account_number'), ['account_number'], unique=False)

    op.create_table('signed_agreements',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('reading_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pdf_media_id', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('signed_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signed_agreements_account_number'), ['account_number'], unique=False)

    op.create_table('application_effects',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('data_enc', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('application_id', 'kind', name='uq_application_effects_kind')
    )
    with op.batch_alter_table('application_effects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_effects_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_effects_status'), ['status'], unique=False)

    op.create_table('application_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_events_application_id'), ['application_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('application_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_events_application_id'))

    op.drop_table('application_events')
    with op.batch_alter_table('application_effects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_effects_status'))
        batch_op.drop_index(batch_op.f('ix_application_effects_application_id'))

    op.drop_table('application_effects')
    with op.batch_alter_table('signed_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signed_agreements_account_number'))

    op.drop_table('signed_agreements')
    with op.batch_alter_table('password_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_credentials_account_number'))

    op.drop_table('password_credentials')
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_applications_status'))
        batch_op.drop_index(batch_op.f('ix_applications_business'))
        batch_op.drop_index(batch_op.f('ix_applications_account_number'))

    op.drop_table('applications')
    with op.batch_alter_table('agreement_readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agreement_readings_account_number'))

    op.drop_table('agreement_readings')
