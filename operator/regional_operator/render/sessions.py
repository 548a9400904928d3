"""Builder: the DynamoDB global tables - user sessions and the payments ledger.

Each is ONE `dynamodb` `Table` MR in the primary region with a `replica[]` entry per secondary region (global
tables version 2019.11.21). DynamoDB itself creates, replicates and deletes the replicas; never the legacy
`GlobalTable` kind (2017 version) and never a second Table MR per region, which would fight the replica over the
same table name.

Encryption: the table uses the primary region's key (`serverSideEncryption.kmsKeyArnRef`) and every replica its
own region's key (`replica[].kmsKeyArnRef`) - a KMS key cannot be used outside its region. Both Refs copy the
key ARN, so nothing here waits for observed values. Point-in-time recovery is enabled on the table and on every
replica (it is a per-replica setting); streams with NEW_AND_OLD_IMAGES are what global-table replication rides on.
"""

from __future__ import annotations

from typing import Any, Final

from . import names
from .context import RenderContext, ref

COMPONENT: Final = "sessions"

SESSIONS_HASH_KEY: Final = "sessionId"
SESSIONS_TTL_ATTRIBUTE: Final = "expiresAt"

# The payments Lambda owns the ledger's item shape (lambda/payments/ledger.py: PARTITION_KEY, SORT_KEY; a test
# keeps the two in step). A key change replaces the table, so agree on it before the first production deploy.
LEDGER_PARTITION_KEY: Final = "paymentId"
LEDGER_SORT_KEY: Final = "recordId"


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    return [
        global_table(ctx, names.sessions_table(ctx), hash_key=SESSIONS_HASH_KEY, ttl_attribute=SESSIONS_TTL_ATTRIBUTE),
        global_table(ctx, names.ledger_table(ctx), hash_key=LEDGER_PARTITION_KEY, range_key=LEDGER_SORT_KEY),
    ]


def global_table(ctx: RenderContext, name: str, *, hash_key: str, range_key: str | None = None,
                 ttl_attribute: str | None = None) -> dict[str, Any]:
    """A PAY_PER_REQUEST global table with string keys, in the primary region, replicated to every secondary."""
    attributes = [{"name": hash_key, "type": "S"}]
    for_provider: dict[str, Any] = {
        "billingMode": "PAY_PER_REQUEST",
        "hashKey": hash_key,
        "attribute": attributes,
        "serverSideEncryption": {"enabled": True, "kmsKeyArnRef": ref(names.kms_key(ctx, ctx.primary))},
        "pointInTimeRecovery": {"enabled": True},
        "deletionProtectionEnabled": False,
        "streamEnabled": True,
        "streamViewType": "NEW_AND_OLD_IMAGES",
        "replica": [
            {
                "regionName": r.name,
                "kmsKeyArnRef": ref(names.kms_key(ctx, r)),
                "pointInTimeRecovery": True,
                # False: the table's tags say Region=<primary>, and propagating them would stamp that region on
                # every replica (replica tags are per-replica resources in AWS; the provider can only copy the
                # table's). Replicas therefore carry no copied tags rather than another region's.
                "propagateTags": False,
                "deletionProtectionEnabled": False,
            }
            for r in ctx.secondaries
        ],
    }
    if range_key is not None:
        for_provider["rangeKey"] = range_key
        attributes.append({"name": range_key, "type": "S"})
    if ttl_attribute is not None:
        for_provider["ttl"] = {"attributeName": ttl_attribute, "enabled": True}
    return ctx.mr("dynamodb/Table", name, region=ctx.primary, component=COMPONENT, external_name=name,
                  for_provider=for_provider)
