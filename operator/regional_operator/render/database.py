"""Builder: the payments PostgreSQL database, one RDS instance per region in its private subnets.

The primary region holds the writable instance. Each secondary region holds either a cross-region read replica
of it (`spec.database.crossRegionReplica`, the default) or, with replication off, an independent instance
configured like the primary.

Provider facts that shape this module (provider-upjet-aws v2.6.0, checked in its source):
- `rds` `Instance` takes its identity from the provider (external name = DbiResourceId), so the AWS identifier is
  pinned with `forProvider.identifier`, never with the external-name annotation (the provider would overwrite it
  and the next apply would fight over it).
- A cross-region replica needs the source instance ARN in `replicateSourceDb`; `replicateSourceDbRef` copies
  the identifier, which only works inside one region. The ARN exists only once AWS created the primary, so the
  replica waits for it (a Pending is recorded) instead of being rendered with a guess.
- `performanceInsightsKmsKeyId` must be a key ARN (the provider validates it) and can never be changed once
  set, while its Ref copies the key id. So the instance waits for the region key's observed ARN rather than
  being created with the AWS-managed key and stuck with it. `kmsKeyIdRef` (storage) does copy the ARN.
- Credentials never pass through the CR or the operator. A standalone database (no replica wanted) lets RDS keep
  the master password in Secrets Manager (`manageMasterUserPassword`, encrypted with the region's key). AWS refuses
  a read replica of a source whose password RDS manages (RDS User Guide, "Password management with Amazon RDS and
  AWS Secrets Manager", Limitations), so when replicas are wanted the primary gets a password the provider
  generates (`autoGeneratePassword`) and writes into the Secret `passwordSecretRef` names, in the CR's namespace;
  the operator never reads or writes that Secret (rotation: docs/aws-semantics.md).
- A replica takes no username/password/engine/storage size (inherited from the source), cannot have a final
  snapshot, and is deleted before its source (deletion tier 1 < the primary's 2).
- TLS is enforced by the DB parameter group (`rds.force_ssl=1`, one group per engine major version: the family
  is fixed at creation, so a major upgrade gets a new group), IAM database authentication is enabled, and the
  `postgresql` and `upgrade` logs are exported to CloudWatch Logs (groups made by logging.py, encrypted).
- Turning replication off for an existing replica is not a promotion path: the standalone shape sets `username`,
  which the provider can only change by replacing the instance, and upjet refuses replacements (the CRD makes
  spec.database.crossRegionReplica immutable).
- Promotion is `spec.failover`: the promoted region's instance keeps the replica's shape minus `replicateSourceDb`.
  Removing that field is what makes the Terraform provider call PromoteReadReplica (with backupRetentionPeriod and
  backupWindow); changing it to another source fails ("cannot elect new source database for replication"), so a
  replica's source is pinned to what the provider reports (`atProvider.replicateSourceDb`) and only a replica
  created after a failover follows the new primary. See docs/aws-semantics.md (issue 12).
"""

from __future__ import annotations

from typing import Any, Final

from . import names
from .adoption import Blocked
from .context import Region, RenderContext, ref
from .logging import RDS_LOG_EXPORTS

COMPONENT: Final = "database"
ENGINE: Final = "postgres"
MASTER_USERNAME: Final = "payments_admin"
DB_NAME: Final = "payments"
PORT: Final = 5432
STORAGE_TYPE: Final = "gp3"
# A read replica's source must keep automated backups (retention > 0); 7 days is the minimum we accept anywhere.
BACKUP_RETENTION_DAYS: Final = 7
PERFORMANCE_INSIGHTS_RETENTION_DAYS: Final = 7  # the free tier; 731 or multiples of 31 cost extra
BACKUP_WINDOW: Final = "03:00-04:00"
MAINTENANCE_WINDOW: Final = "sun:04:30-sun:05:30"  # after the backup window, never overlapping it
PASSWORD_SECRET_KEY: Final = "password"  # noqa: S105 - the key name in the Secret, not a password


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in ctx.regions:
        out.append(subnet_group(ctx, r))
        out.append(parameter_group(ctx, r))
        if ("rds/Instance", names.database(ctx, r)) in ctx.adopted:
            instance = adopted_instance(ctx, r)
        elif r.primary or not ctx.spec.database.cross_region_replica:
            instance = standalone_instance(ctx, r)
        elif r is ctx.promoted:
            instance = promoted_instance(ctx, r)
        else:
            instance = replica_instance(ctx, r)
        if instance is not None:
            out.append(instance)
    return out


def subnet_group_name(ctx: RenderContext, r: Region) -> str:
    return ctx.names.named("db-subnet-group", r.name)


def subnet_group(ctx: RenderContext, r: Region) -> dict[str, Any]:
    """The three private subnets: also required by a cross-region replica, which otherwise lands in the default
    VPC's default subnet group."""
    name = subnet_group_name(ctx, r)
    return ctx.mr("rds/SubnetGroup", name, region=r, component=COMPONENT, external_name=name, for_provider={
        "description": f"payments database private subnets in {r.name}",
        "subnetIdRefs": [ref(names.subnet(ctx, r, "private", i)) for i in range(3)],
    })


def engine_major(ctx: RenderContext) -> str:
    return ctx.spec.database.engine_version.split(".")[0]


def parameter_group_name(ctx: RenderContext, r: Region) -> str:
    return ctx.names.regional(f"payments-db-pg{engine_major(ctx)}", r.name)


def parameter_group(ctx: RenderContext, r: Region) -> dict[str, Any]:
    """`rds.force_ssl=1`: the server refuses every connection that is not TLS (PCI DSS 4.2.1). The parameter is
    dynamic for RDS for PostgreSQL, so it applies without a reboot."""
    name = parameter_group_name(ctx, r)
    return ctx.mr("rds/ParameterGroup", name, region=r, component=COMPONENT, external_name=name, for_provider={
        "family": f"{ENGINE}{engine_major(ctx)}",
        "description": f"payments database parameters in {r.name}: TLS only",
        "parameter": [{"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"}],
    })


def _common(ctx: RenderContext, r: Region, name: str, pi_key_arn: str) -> dict[str, Any]:
    """Settings every instance shares, replica or not: placement, network exposure, encryption, upkeep."""
    return {
        "identifier": names.database_identifier(ctx, r),
        "instanceClass": r.settings.db_instance_class,
        "storageType": STORAGE_TYPE,
        "dbSubnetGroupNameRef": ref(subnet_group_name(ctx, r)),
        "vpcSecurityGroupIdRefs": [ref(names.security_group(ctx, r, "database"))],
        "port": PORT,
        "publiclyAccessible": False,
        "storageEncrypted": True,
        "kmsKeyIdRef": ref(names.kms_key(ctx, r)),
        "parameterGroupNameRef": ref(parameter_group_name(ctx, r)),
        "iamDatabaseAuthenticationEnabled": True,
        "enabledCloudwatchLogsExports": list(RDS_LOG_EXPORTS),
        "performanceInsightsEnabled": True,
        "performanceInsightsKmsKeyId": pi_key_arn,
        "performanceInsightsRetentionPeriod": PERFORMANCE_INSIGHTS_RETENTION_DAYS,
        "deletionProtection": False,
        "autoMinorVersionUpgrade": True,
        "copyTagsToSnapshot": True,
        "applyImmediately": True,
        "maintenanceWindow": MAINTENANCE_WINDOW,
    }


def _key_arn(ctx: RenderContext, r: Region, needed_by: str) -> str | None:
    return ctx.observed_value("Key", names.kms_key(ctx, r), "arn", needed_by=("Instance", needed_by))


def password_secret_name(ctx: RenderContext, r: Region) -> str:
    """The Secret (in the CR's namespace) the provider writes the generated master password into."""
    return f"{names.database(ctx, r)}-master-password"


def has_replicas(ctx: RenderContext, r: Region) -> bool:
    """Whether other regions replicate from this instance (only the primary, with crossRegionReplica on)."""
    return r.primary and ctx.spec.database.cross_region_replica and bool(ctx.secondaries)


def _credentials(ctx: RenderContext, r: Region) -> dict[str, Any]:
    """RDS-managed password for a standalone instance; a provider-generated one for a replication source."""
    if has_replicas(ctx, r):
        return {"autoGeneratePassword": True,
                "passwordSecretRef": {"name": password_secret_name(ctx, r), "key": PASSWORD_SECRET_KEY}}
    return {"manageMasterUserPassword": True, "masterUserSecretKmsKeyIdRef": ref(names.kms_key(ctx, r))}


# What every writable instance (the primary, a promoted replica) has that a read replica does not: Multi-AZ and
# automated backups (PromoteReadReplica takes retention and window, so a promotion sets them in place).
WRITABLE_FIELDS: Final[dict[str, Any]] = {
    "multiAz": True, "backupRetentionPeriod": BACKUP_RETENTION_DAYS, "backupWindow": BACKUP_WINDOW,
}


def standalone_instance(ctx: RenderContext, r: Region) -> dict[str, Any] | None:
    """The primary (and, with replication off, each secondary): a writable Multi-AZ instance."""
    name = names.database(ctx, r)
    key_arn = _key_arn(ctx, r, name)
    if key_arn is None:
        return None
    for_provider = _common(ctx, r, name, key_arn) | {
        "engine": ENGINE,
        "engineVersion": ctx.spec.database.engine_version,
        "allocatedStorage": r.settings.db_allocated_storage_gib,
        "dbName": DB_NAME,
        "username": MASTER_USERNAME,
        **_credentials(ctx, r),
        **WRITABLE_FIELDS,
    } | _retention(ctx, name)
    return ctx.mr("rds/Instance", name, region=r, component=COMPONENT, for_provider=for_provider)


def adopted_instance(ctx: RenderContext, r: Region) -> dict[str, Any] | None:
    """An existing instance (spec.regions[].adopt.database): what Manage would set on it, without the fields that
    would reset what it already has (master username, database name, credentials: a new master password would
    lock its applications out; username and dbName cannot change in place)."""
    name = names.database(ctx, r)
    key_arn = _key_arn(ctx, r, name)
    if key_arn is None:
        return None
    for_provider = _common(ctx, r, name, key_arn) | {
        "engine": ENGINE, "engineVersion": ctx.spec.database.engine_version,
        "allocatedStorage": r.settings.db_allocated_storage_gib, **WRITABLE_FIELDS,
    } | _retention(ctx, name)
    return ctx.mr("rds/Instance", name, region=r, component=COMPONENT, for_provider=for_provider)


def _retention(ctx: RenderContext, name: str) -> dict[str, Any]:
    """What deleting a writable instance leaves behind: Retain keeps a final snapshot; the automated backups are
    kept unless spec.database.deleteAutomatedBackups asks otherwise (the provider's default, delete_automated_backups
    = true, would remove them with the instance: docs/aws-semantics.md), and always kept under Retain."""
    retain = ctx.spec.lifecycle == "Retain"
    delete_backups = ctx.spec.database.delete_automated_backups and not retain
    out: dict[str, Any] = {"skipFinalSnapshot": not retain, "deleteAutomatedBackups": delete_backups}
    if retain:
        out["finalSnapshotIdentifier"] = final_snapshot_identifier(name)
    return out


def promoted_instance(ctx: RenderContext, r: Region) -> dict[str, Any] | None:
    """The failover target: the replica's own fields (nothing ForceNew added: no username, dbName, engine) without
    `replicateSourceDb`, so the provider promotes it, plus what a writable instance needs and RDS can modify in
    place: backups (PromoteReadReplica takes retention and window), Multi-AZ, its own managed master secret."""
    name = names.database(ctx, r)
    key_arn = _key_arn(ctx, r, name)
    if key_arn is None:
        return None
    for_provider = _common(ctx, r, name, key_arn) | {
        **WRITABLE_FIELDS,
        "manageMasterUserPassword": True,
        "masterUserSecretKmsKeyIdRef": ref(names.kms_key(ctx, r)),
    } | _retention(ctx, name)
    return ctx.mr("rds/Instance", name, region=r, component=COMPONENT, for_provider=for_provider)


def replica_source(ctx: RenderContext, r: Region) -> str | None:
    """The ARN a replica follows. Once the provider reports one it is kept: RDS cannot move a replica to another
    source. A new replica follows the writable database: the primary, or after a failover the promoted one."""
    name = names.database(ctx, r)
    pinned = ctx.observed.attribute("Instance", name, "replicateSourceDb")
    if pinned is not None:
        return pinned
    writer = ctx.promoted or ctx.primary
    source = names.database(ctx, writer)
    arn = ctx.observed_value("Instance", source, "arn", needed_by=("Instance", name))
    adopted = ctx.adopted.get(("rds/Instance", source))
    if arn is not None and adopted is not None:
        # RDS refuses a read replica of a source without automated backups (CreateDBInstanceReadReplica:
        # "Automated backups are not enabled"): say so instead of creating a replica that fails.
        retention = ctx.observed.raw_attribute("Instance", source, "backupRetentionPeriod")
        if not isinstance(retention, int | float) or retention <= 0:
            ctx.blocked.append(Blocked("Instance", name, adopted.field, (
                f"the adopted database {adopted.identifier} has no automated backups (backupRetentionPeriod "
                f"{retention}); a read replica needs them: turn them on in AWS, or set adopt.database.mode: Manage "
                f"(which sets {BACKUP_RETENTION_DAYS} days)")))
            return None
    return arn


def replica_instance(ctx: RenderContext, r: Region) -> dict[str, Any] | None:
    """A cross-region read replica of the primary, encrypted with this region's key; None until both the source
    ARN and the local key ARN are observed."""
    name = names.database(ctx, r)
    source_arn = replica_source(ctx, r)
    key_arn = _key_arn(ctx, r, name)
    if source_arn is None or key_arn is None:
        return None
    for_provider = _common(ctx, r, name, key_arn) | {
        "replicateSourceDb": source_arn,
        "multiAz": False,
        "skipFinalSnapshot": True,  # RDS refuses a final snapshot for a read replica
    }
    return ctx.mr("rds/Instance", name, region=r, component=COMPONENT, tier=1, for_provider=for_provider)


def final_snapshot_identifier(instance: str) -> str:
    """Letters, digits and single hyphens, starting with a letter (the instance name already is)."""
    return f"{instance}-final"
