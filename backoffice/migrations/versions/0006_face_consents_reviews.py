"""Live face checks: face consents, face reviews, media kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 06:32:01
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('face_consents',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=True),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('agreed', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('face_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_consents_subject'), ['subject'], unique=False)

    op.create_table('face_reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sender', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('account_number', sa.String(length=16), nullable=True),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('business', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('best_frame_media_id', sa.String(length=32), nullable=True),
    sa.Column('reference_media_ids', sa.JSON(), nullable=False),
    sa.Column('distance', sa.Float(), nullable=False),
    sa.Column('accept_max', sa.Float(), nullable=True),
    sa.Column('review_max', sa.Float(), nullable=True),
    sa.Column('liveness', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('face_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_face_reviews_account_number'), ['account_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_reviews_sender'), ['sender'], unique=False)
        batch_op.create_index(batch_op.f('ix_face_reviews_status'), ['status'], unique=False)

    with op.batch_alter_table('media_objects') as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('media_objects') as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('face_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_reviews_status'))
        batch_op.drop_index(batch_op.f('ix_face_reviews_sender'))
        batch_op.drop_index(batch_op.f('ix_face_reviews_account_number'))

    op.drop_table('face_reviews')
    with op.batch_alter_table('face_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_face_consents_subject'))

    op.drop_table('face_consents')
