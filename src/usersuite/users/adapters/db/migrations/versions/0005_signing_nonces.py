"""request-signing nonces shared by every API replica"""

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.create_table(
        "signing_nonces",
        sa.Column("key_id", sa.String(255), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name="pk_signing_nonces"),
    )
    op.create_index("ix_signing_nonces_expire_time", "signing_nonces", ["expire_time"])


def downgrade() -> None:
    op.drop_index("ix_signing_nonces_expire_time", table_name="signing_nonces")
    op.drop_table("signing_nonces")
