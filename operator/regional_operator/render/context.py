"""The render context: the parsed spec, resolved per-region settings, names, observed state, and the one helper
that builds the common shell of every managed resource (builders only add `forProvider` fields)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..artifact import LambdaArtifact
from ..aws_facts import AWS_REGIONS, UNLISTED_REGION_NUMBERS
from ..defaults import RegionDefaults, RegionSettings, resolve_region
from ..errors import SpecValidationError
from ..naming import NAME_TEMPLATES, Namer, region_code
from ..spec import AdoptSpec, RegionalDeploymentSpec
from ..validation import check_disjoint_cidrs, check_unique_numbers, vpc_network
from . import adoption, names
from .kinds import kind as kind_of
from .observed import OBSERVED_ATTRIBUTES, Observed

MANAGED_BY: Final = "regional-operator"
LABEL_PREFIX: Final = "platform.regional.io"
LABEL_DEPLOYMENT: Final = f"{LABEL_PREFIX}/deployment"
LABEL_REGION: Final = f"{LABEL_PREFIX}/region"
LABEL_COMPONENT: Final = f"{LABEL_PREFIX}/component"
LABEL_TIER: Final = f"{LABEL_PREFIX}/deletion-tier"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
EXTERNAL_NAME: Final = "crossplane.io/external-name"
FULL_MANAGEMENT: Final = ["*"]
RETAIN_MANAGEMENT: Final = ["Observe", "Create", "Update", "LateInitialize"]
SUBNET_EXTRA_BITS: Final = 3  # the VPC is cut into 8 equal blocks: 3 public, 3 private, 2 spare


@dataclass(frozen=True)
class Region:
    """One region of the deployment with everything builders need already resolved.

    `primary` is True on the hub (RenderContext.primary): the spec's primary, or after a failover the old primary,
    which stays the anchor of peering, S3 replication and the global tables. `number` stands for the region's
    identity where AWS wants a number (never its position in spec.regions, so list edits renumber nothing)."""

    name: str
    code: str
    primary: bool
    settings: RegionSettings
    vpc_cidr: ipaddress.IPv4Network
    public_subnets: tuple[ipaddress.IPv4Network, ...]
    private_subnets: tuple[ipaddress.IPv4Network, ...]
    number: int = 0
    # The ACM certificate of this region's HTTPS listener (spec.regions[].certificateArn, else
    # spec.edge.certificateArn; parse_spec checked it is in this region); None: HTTP only.
    certificate_arn: str | None = None

    @property
    def index(self) -> int:
        return self.settings.index

    @property
    def partition(self) -> str:
        return partition(self.name)


@dataclass(frozen=True)
class Pending:
    """A dependent MR not rendered yet because an input only the provider can report is missing.

    `region` (None for a global name) and `component` are the ones the MR will carry once rendered; render() fills
    them in (see render._tagged), so builders name only what waits and for what.
    """

    kind: str
    name: str
    waits_for: str
    region: str | None = None
    component: str = ""

    def __str__(self) -> str:
        return f"{self.kind}/{self.name} waits for {self.waits_for}"


def region_number(name: str) -> int:
    """The region's number: its fixed entry in aws_facts.AWS_REGIONS, else (a region newer than the table) a hash of
    its name inside UNLISTED_REGION_NUMBERS. A pure function of the name: adding or removing other regions never
    changes it."""
    if name in AWS_REGIONS:
        return AWS_REGIONS[name]
    span = UNLISTED_REGION_NUMBERS
    return span.start + int(hashlib.sha256(name.encode()).hexdigest(), 16) % len(span)


def partition(region: str) -> str:
    """The ARN partition of a region: GovCloud and China are their own partitions, and an ARN with the wrong one
    names nothing (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)."""
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws"


def carve_subnets(cidr: str, index: int) -> tuple[ipaddress.IPv4Network, tuple[ipaddress.IPv4Network, ...],
                                                   tuple[ipaddress.IPv4Network, ...]]:
    """Split a VPC CIDR into 3 public and 3 private subnets (blocks 0-2 and 4-6 of 8)."""
    network = vpc_network(cidr, index)
    blocks = list(network.subnets(prefixlen_diff=SUBNET_EXTRA_BITS))
    return network, tuple(blocks[0:3]), tuple(blocks[4:7])


class RegionRecordingNamer(Namer):
    """The Namer, remembering the region each regional name was made for: the region of a pending MR is then known
    from how its name was made, not read back out of the name."""

    def __init__(self, suffix: str, namespace: str, cr_name: str) -> None:
        super().__init__(suffix, namespace, cr_name)
        self.region_of: dict[str, str] = {}

    def regional(self, prefix: str, region: str) -> str:
        name = super().regional(prefix, region)
        self.region_of[name] = region
        return name

    def named(self, template: str, region: str | None = None) -> str:
        name = super().named(template, region)
        if region is not None and NAME_TEMPLATES[template][2]:
            self.region_of[name] = region
        return name


class RenderContext:
    """Shared, read-only inputs of one render plus the list of pending dependents it collects."""

    def __init__(self, spec: RegionalDeploymentSpec, defaults: RegionDefaults, *, namespace: str, name: str,
                 observed: Observed, artifact: LambdaArtifact | None = None) -> None:
        self.spec = spec
        self.artifact = artifact
        self.namespace = namespace
        self.cr_name = name
        self.observed = observed
        self.names = RegionRecordingNamer(spec.environment_suffix, namespace, name)
        self.pending: list[Pending] = []
        self.blocked: list[adoption.Blocked] = []  # what adopted resources must change before a dependent renders
        regions = []
        for i, r in enumerate(spec.regions):
            network, public, private = carve_subnets(r.vpc_cidr, i)
            regions.append(Region(r.name, region_code(r.name), r.name == spec.hub, resolve_region(defaults, r, i),
                                  network, public, private, region_number(r.name),
                                  r.certificate_arn or spec.edge.certificate_arn))
        check_disjoint_cidrs(regions)
        check_unique_numbers(regions)
        self.regions: tuple[Region, ...] = tuple(regions)
        # The hub: spec.regions' primary, or after a failover the old primary (spec.failover.fromRegion).
        self.primary = next(r for r in regions if r.primary)
        # By name, not list position: links (replicas, replication rules) must not move when the list is reordered.
        self.secondaries = tuple(sorted((r for r in regions if not r.primary), key=lambda r: r.name))
        # The region whose read replica a failover promotes (None without spec.failover).
        self.promoted = self.region(spec.failover.to_region) if spec.failover else None
        # (kind key, MR name) -> how it is adopted (spec.regions[].adopt); empty when nothing is adopted.
        self.adopted: dict[tuple[str, str], adoption.Adopted] = adoption.index(self)
        self._check_adopted_cidrs()

    def _check_adopted_cidrs(self) -> None:
        """An adopted VPC keeps its CIDR (AWS cannot change it); vpcCidr must say what it is, so the subnets we carve,
        the NACL rules and the peers' routes fit the real network. Refused (nothing touched) until it does."""
        for r in self.regions:
            vpc = names.vpc(self, r)
            if ("ec2/VPC", vpc) not in self.adopted:
                continue
            real = self.observed.attribute("VPC", vpc, "cidrBlock")
            if real is not None and real != str(r.vpc_cidr):
                raise SpecValidationError(
                    f"spec.regions[{r.index}].vpcCidr",
                    f"is {r.vpc_cidr}, but the adopted VPC {self.adopted[('ec2/VPC', vpc)].identifier} has CIDR "
                    f"{real}: set vpcCidr to {real} (AWS cannot change a VPC's primary CIDR)")

    def observe_only(self, key: str, name: str) -> bool:
        """Whether the MR stands for an existing resource that is only observed (adopt mode Observe)."""
        adopted = self.adopted.get((key, name))
        return adopted is not None and adopted.observe_only

    def adopted_cidr_known(self, r: Region, *, needed_by: tuple[str, str]) -> bool:
        """Whether `r`'s VPC CIDR is known for certain: always for a VPC we create, for an adopted one once the
        provider reported it (until then what needs it, a peer's route, waits: a Pending)."""
        vpc = names.vpc(self, r)
        if ("ec2/VPC", vpc) not in self.adopted:
            return True
        return self.observed_value("VPC", vpc, "cidrBlock", needed_by=needed_by) is not None

    def adopt_of(self, r: Region) -> AdoptSpec | None:
        """spec.regions[].adopt of `r` (None: everything in it is created by the operator)."""
        return self.spec.regions[r.index].adopt

    def region(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)

    def log_retention_days(self, r: Region) -> int:
        """CloudWatch Logs retention of every log group in `r`: the production value for production environments."""
        s = r.settings
        return s.production_log_retention_days if self.spec.is_production else s.log_retention_days

    def arn(self, service: str, r: Region, resource: str, *, regional: bool = True) -> str:
        """An ARN in this deployment's account and `r`'s partition; `regional=False` for global services (IAM)."""
        return f"arn:{r.partition}:{service}:{r.name if regional else ''}:{self.spec.aws_account_id}:{resource}"

    def tags(self, region: Region | None, name: str) -> dict[str, str]:
        """The tags every taggable resource carries."""
        return {
            "Name": name,
            "Environment": self.spec.environment,
            "Region": region.name if region else "global",
            "CostCenter": self.spec.cost_center,
            "ManagedBy": MANAGED_BY,
            "RegionalDeployment": f"{self.namespace}/{self.cr_name}",
        }

    def observed_value(self, kind: str, name: str, attribute: str, *, needed_by: tuple[str, str]) -> str | None:
        """`status.atProvider.<attribute>` of another MR, or None after recording what `needed_by` waits for."""
        if attribute not in OBSERVED_ATTRIBUTES:
            raise ValueError(f"atProvider.{attribute} is not kept by the operator: add it to OBSERVED_ATTRIBUTES")
        value = self.observed.attribute(kind, name, attribute)
        if value is None:
            self.pending.append(Pending(needed_by[0], needed_by[1], f"{kind}/{name} status.atProvider.{attribute}"))
        return value

    def observed_ready(self, kind: str, name: str, *, needed_by: tuple[str, str]) -> bool:
        """Whether another MR is Ready; if not, record that `needed_by` waits for it. For dependents AWS refuses
        while what they need does not exist yet (or is not yet usable): they are rendered once it is, so no MR is
        created only to fail in a retry loop."""
        if self.observed.is_ready(kind, name):
            return True
        self.pending.append(Pending(needed_by[0], needed_by[1], f"{kind}/{name} Ready"))
        return False

    def mr(self, key: str, name: str, *, region: Region, component: str, for_provider: dict[str, Any],
           external_name: str | None = None, tier: int | None = None, init_provider: dict[str, Any] | None = None,
           ) -> dict[str, Any]:
        """The common shell of every MR: apiVersion/kind, name, namespace, labels, region, providerConfigRef,
        managementPolicies, tags. `external_name` pins the AWS name for kinds identified by name."""
        k = kind_of(key)
        forp = dict(for_provider)
        if k.regional:
            forp["region"] = region.name
        if k.taggable:
            forp["tags"] = self.tags(region, name)
        retain = self.spec.lifecycle == "Retain" and k.stateful
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": {
                LABEL_MANAGED_BY: MANAGED_BY,
                LABEL_DEPLOYMENT: self.cr_name,
                LABEL_REGION: region.name,
                LABEL_COMPONENT: component,
                LABEL_TIER: str(k.tier if tier is None else tier),
            },
        }
        policies = list(RETAIN_MANAGEMENT if retain else FULL_MANAGEMENT)
        adopted = self.adopted.get((key, name))
        if adopted is not None:  # an existing resource: its identifier, and what the adoption mode allows
            external_name = adopted.external_name
            policies = adopted.management_policies(seen=self.observed.reported(k.kind, name))
            metadata["annotations"] = {adoption.ADOPTED_ANNOTATION: adopted.field}
        if external_name is not None:
            metadata.setdefault("annotations", {})[EXTERNAL_NAME] = external_name
        spec: dict[str, Any] = {
            "forProvider": forp,
            "providerConfigRef": self.spec.provider_config_ref.model_dump(),
            "managementPolicies": policies,
        }
        if init_provider:
            spec["initProvider"] = init_provider
        return {"apiVersion": k.api_version, "kind": k.kind, "metadata": metadata, "spec": spec}


def each_region(build_region: Callable[[RenderContext, Region], list[dict[str, Any]]],
                ) -> Callable[[RenderContext], list[dict[str, Any]]]:
    """A builder from a per-region builder: the MRs of every region, in spec order."""
    def build(ctx: RenderContext) -> list[dict[str, Any]]:
        return [mr for r in ctx.regions for mr in build_region(ctx, r)]

    return build


def ref(name: str) -> dict[str, str]:
    """A same-namespace reference to another MR by name (the provider resolves it; works across AWS regions)."""
    return {"name": name}


def compact_json(value: Any) -> str:
    """Compact, key-sorted JSON so the same spec always renders the same bytes (no spurious updates)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def policy_json(statements: list[dict[str, Any]]) -> str:
    """An IAM/resource policy document as the compact, key-sorted JSON string the provider stores."""
    return compact_json({"Version": "2012-10-17", "Statement": statements})
