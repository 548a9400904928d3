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
from .adoption import Blocked
from .context import Pending, RenderContext, ref

COMPONENT: Final = "sessions"
STREAM_VIEW: Final = "NEW_AND_OLD_IMAGES"  # what global table replication rides on

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
        "streamViewType": STREAM_VIEW,
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
    _adopted_table(ctx, name, for_provider)
    if range_key is not None:
        for_provider["rangeKey"] = range_key
        attributes.append({"name": range_key, "type": "S"})
    if ttl_attribute is not None:
        for_provider["ttl"] = {"attributeName": ttl_attribute, "enabled": True}
    return ctx.mr("dynamodb/Table", name, region=ctx.primary, component=COMPONENT, external_name=name,
                  for_provider=for_provider)


def _adopted_table(ctx: RenderContext, name: str, for_provider: dict[str, Any]) -> None:
    """Keep what an adopted table must keep as it is, in `for_provider`: a table whose stream is not
    NEW_AND_OLD_IMAGES keeps its stream and gets no replicas until its owner changes the stream (DynamoDB cannot
    change a stream's view type in place, and consumers of the old stream would break silently); an Observe-only
    table gets none either (adding a replica changes the table). Both are reported as Blocked."""
    adopted = ctx.adopted.get(("dynamodb/Table", name))
    if adopted is None:
        return
    wants_replicas = bool(for_provider["replica"])
    enabled = ctx.observed.raw_attribute("Table", name, "streamEnabled")
    view = ctx.observed.raw_attribute("Table", name, "streamViewType")
    if enabled is None and view is None:  # not reported yet: no replica before the stream is known
        if wants_replicas:
            ctx.pending.append(Pending("Table", name, f"Table/{name} status.atProvider.streamViewType"))
        for_provider["replica"] = []
        return
    if enabled is not True or view != STREAM_VIEW:
        if wants_replicas:
            ctx.blocked.append(Blocked("Table", name, adopted.field, (
                f"the adopted table {adopted.identifier} streams {view or 'nothing'} (stream enabled: {enabled}); "
                f"a global table replica needs the stream {STREAM_VIEW}: change it on the table first")))
        for_provider["replica"] = []
        for_provider["streamEnabled"] = enabled is True
        if view:
            for_provider["streamViewType"] = view
        else:
            del for_provider["streamViewType"]
        return
    if adopted.observe_only and wants_replicas:
        ctx.blocked.append(Blocked("Table", name, adopted.field, (
            f"replicas of the adopted table {adopted.identifier} are added to the table itself: set "
            f"{adopted.field.rsplit('.', 1)[0]}.mode: Manage to add them (Observe changes nothing)")))
