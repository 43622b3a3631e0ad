"""baseline: the schema of 2026-12-07 (what create_all made before Alembic)

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-07 15:04:54.329949
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alert_comments',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('alert_id', sa.String(), nullable=False),
    sa.Column('author', sa.String(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_comments_alert_id'), ['alert_id'], unique=False)

    op.create_table('alert_decisions',
    sa.Column('alert_id', sa.String(), nullable=False),
    sa.Column('decision_id', sa.String(), nullable=False),
    sa.Column('joined_at', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('suppressed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('alert_id', 'decision_id')
    )
    with op.batch_alter_table('alert_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_decisions_decision_id'), ['decision_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('dedup_key', sa.String(), nullable=False),
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('stream', sa.String(), nullable=True),
    sa.Column('entity', sa.String(), nullable=True),
    sa.Column('rule', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('resolution', sa.String(), nullable=True),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('first_decision_id', sa.String(), nullable=False),
    sa.Column('last_decision_id', sa.String(), nullable=False),
    sa.Column('decision_count', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.String(), nullable=False),
    sa.Column('last_seen_at', sa.String(), nullable=False),
    sa.Column('updated_at', sa.String(), nullable=False),
    sa.Column('acknowledged_at', sa.String(), nullable=True),
    sa.Column('acknowledged_by', sa.String(), nullable=True),
    sa.Column('assignee', sa.String(), nullable=True),
    sa.Column('snoozed_until', sa.String(), nullable=True),
    sa.Column('snoozed_severity', sa.Integer(), nullable=True),
    sa.Column('escalations', sa.Integer(), nullable=False),
    sa.Column('resolved_at', sa.String(), nullable=True),
    sa.Column('resolved_by', sa.String(), nullable=True),
    sa.Column('duplicate_of', sa.String(), nullable=True),
    sa.Column('review_status', sa.String(), nullable=False),
    sa.Column('review_claimed_at', sa.String(), nullable=True),
    sa.Column('approval_required', sa.Boolean(), nullable=True),
    sa.Column('triage', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_key_state', ['dedup_key', 'state', 'last_seen_at'], unique=False)
        batch_op.create_index('ix_alerts_review_status', ['review_status'], unique=False)
        batch_op.create_index('ix_alerts_state_id', ['state', 'id'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('key_hash', sa.String(), nullable=False),
    sa.Column('prefix', sa.String(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('revoked_at', sa.String(), nullable=True),
    sa.Column('rate_per_s', sa.Float(), nullable=True),
    sa.Column('burst', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('key_id', sa.String(), nullable=False),
    sa.Column('mac', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoints_seq'), ['seq'], unique=False)

    op.create_table('audit_events',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ts', sa.String(), nullable=False),
    sa.Column('actor', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('subject_type', sa.String(), nullable=False),
    sa.Column('subject_id', sa.String(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(), nullable=False),
    sa.Column('hash', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_action_ts', ['action', 'ts'], unique=False)
        batch_op.create_index('ix_audit_actor_ts', ['actor', 'ts'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_ts'), ['ts'], unique=False)
        batch_op.create_index('ix_audit_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('batch_stream_states',
    sa.Column('batch_id', sa.String(), nullable=False),
    sa.Column('stream', sa.String(), nullable=False),
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('fit_version', sa.Integer(), nullable=True),
    sa.Column('model_states', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', 'stream')
    )
    op.create_table('chat_threads',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('owner', sa.String(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('chat_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chat_threads_owner'), ['owner'], unique=False)

    op.create_table('decisions',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('stream', sa.String(), nullable=True),
    sa.Column('event_ts', sa.Float(), nullable=True),
    sa.Column('request_id', sa.String(), nullable=True),
    sa.Column('batch_id', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('disagreement', sa.Float(), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('outputs', sa.JSON(), nullable=False),
    sa.Column('router', sa.JSON(), nullable=False),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('governor', sa.JSON(), nullable=False),
    sa.Column('model_versions', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.Column('explanation_status', sa.String(), nullable=False),
    sa.Column('content_sha256', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_decisions_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_decisions_profile_stream_created', ['profile', 'stream', 'created_at'], unique=False)

    op.create_table('explanation_jobs',
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at', sa.String(), nullable=False),
    sa.Column('lease_owner', sa.String(), nullable=True),
    sa.Column('lease_until', sa.String(), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('updated_at', sa.String(), nullable=False),
    sa.Column('finished_at', sa.String(), nullable=True),
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('decision_id', sa.String(), nullable=False),
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('decision_id')
    )
    with op.batch_alter_table('explanation_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_explanation_jobs_status_run_at', ['status', 'run_at'], unique=False)

    op.create_table('feedback',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('decision_id', sa.String(), nullable=False),
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('outcome', sa.Float(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('actor', sa.String(), nullable=False),
    sa.Column('note', sa.String(), nullable=False),
    sa.Column('arm', sa.String(), nullable=False),
    sa.Column('propensity', sa.Float(), nullable=False),
    sa.Column('reward', sa.Float(), nullable=False),
    sa.Column('router_version', sa.String(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_decision_id'), ['decision_id'], unique=False)
        batch_op.create_index('ix_feedback_profile_created', ['profile', 'created_at'], unique=False)

    op.create_table('model_activations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('model', sa.String(), nullable=False),
    sa.Column('version', sa.String(), nullable=False),
    sa.Column('activated_at', sa.String(), nullable=False),
    sa.Column('actor', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('model_activations', schema=None) as batch_op:
        batch_op.create_index('ix_activation_profile_model', ['profile', 'model', 'id'], unique=False)

    op.create_table('model_versions',
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('model', sa.String(), nullable=False),
    sa.Column('version', sa.String(), nullable=False),
    sa.Column('family', sa.String(), nullable=False),
    sa.Column('format', sa.String(), nullable=False),
    sa.Column('path', sa.String(), nullable=False),
    sa.Column('manifest_sha256', sa.String(), nullable=False),
    sa.Column('data_sha256', sa.String(), nullable=False),
    sa.Column('code_version', sa.String(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('profile', 'model', 'version')
    )
    op.create_table('router_states',
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('updates', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('profile', 'version')
    )
    op.create_table('stream_baselines',
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('stream', sa.String(), nullable=False),
    sa.Column('mean', sa.Float(), nullable=False),
    sa.Column('std', sa.Float(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('window_days', sa.Float(), nullable=False),
    sa.Column('computed_at', sa.String(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('profile', 'stream')
    )
    op.create_table('stream_fits',
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('stream', sa.String(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('fit', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('profile', 'stream', 'version')
    )
    op.create_table('stream_states',
    sa.Column('profile', sa.String(), nullable=False),
    sa.Column('stream', sa.String(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.String(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('fit', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('profile', 'stream')
    )
    op.create_table('watchlist_entries',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.Column('profile', sa.String(), nullable=True),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('expires_at', sa.String(), nullable=True),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('watchlist_entries', schema=None) as batch_op:
        batch_op.create_index('ix_watchlist_kind_value', ['kind', 'value'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at', sa.String(), nullable=False),
    sa.Column('lease_owner', sa.String(), nullable=True),
    sa.Column('lease_until', sa.String(), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('updated_at', sa.String(), nullable=False),
    sa.Column('finished_at', sa.String(), nullable=True),
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('webhook_id', sa.String(), nullable=False),
    sa.Column('event', sa.String(), nullable=False),
    sa.Column('subject_id', sa.String(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_status_run_at', ['status', 'run_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_webhook', ['webhook_id', 'created_at'], unique=False)

    op.create_table('webhooks',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('owner', sa.String(), nullable=False),
    sa.Column('url', sa.String(), nullable=False),
    sa.Column('secret', sa.String(), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.String(), nullable=False),
    sa.Column('deleted_at', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.create_index('ix_webhooks_owner', ['owner', 'active'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_index('ix_webhooks_owner')

    op.drop_table('webhooks')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_webhook')
        batch_op.drop_index('ix_webhook_deliveries_status_run_at')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('watchlist_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_watchlist_kind_value')

    op.drop_table('watchlist_entries')
    op.drop_table('stream_states')
    op.drop_table('stream_fits')
    op.drop_table('stream_baselines')
    op.drop_table('router_states')
    op.drop_table('model_versions')
    with op.batch_alter_table('model_activations', schema=None) as batch_op:
        batch_op.drop_index('ix_activation_profile_model')

    op.drop_table('model_activations')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_profile_created')
        batch_op.drop_index(batch_op.f('ix_feedback_decision_id'))

    op.drop_table('feedback')
    with op.batch_alter_table('explanation_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_explanation_jobs_status_run_at')

    op.drop_table('explanation_jobs')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_decisions_profile_stream_created')
        batch_op.drop_index(batch_op.f('ix_decisions_created_at'))
        batch_op.drop_index(batch_op.f('ix_decisions_action'))

    op.drop_table('decisions')
    with op.batch_alter_table('chat_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chat_threads_owner'))

    op.drop_table('chat_threads')
    op.drop_table('batch_stream_states')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_subject')
        batch_op.drop_index(batch_op.f('ix_audit_events_ts'))
        batch_op.drop_index('ix_audit_actor_ts')
        batch_op.drop_index('ix_audit_action_ts')

    op.drop_table('audit_events')
    with op.batch_alter_table('audit_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoints_seq'))

    op.drop_table('audit_checkpoints')
    op.drop_table('api_keys')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_state_id')
        batch_op.drop_index('ix_alerts_review_status')
        batch_op.drop_index('ix_alerts_key_state')

    op.drop_table('alerts')
    with op.batch_alter_table('alert_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_decisions_decision_id'))

    op.drop_table('alert_decisions')
    with op.batch_alter_table('alert_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_comments_alert_id'))

    op.drop_table('alert_comments')
