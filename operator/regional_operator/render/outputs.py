"""Where each status output (VPC id, ALB DNS name, DB endpoint, bucket ARN, queue URL, peering id) is read from:
the renderer names the MR, so status reads one attribute of one live MR instead of finding it by kind, label and
name pattern."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from . import names
from .context import RenderContext

# (output name, kind, atProvider attribute): every attribute here is kept by the operator (OBSERVED_ATTRIBUTES)
OUTPUTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("vpcId", "VPC", "id"),
    ("albDnsName", "LB", "dnsName"),
    ("databaseEndpoint", "Instance", "address"),
    ("uploadsBucketArn", "Bucket", "arn"),
    ("queueUrl", "Queue", "url"),
    ("peeringConnectionId", "VPCPeeringConnection", "id"),
)


@dataclass(frozen=True)
class OutputSource:
    """status.outputs.<region>.<output> is status.atProvider.<attribute> of the live MR kind/name."""

    region: str
    output: str
    kind: str
    name: str
    attribute: str


def output_sources(ctx: RenderContext, resources: Sequence[Mapping[str, Any]]) -> tuple[OutputSource, ...]:
    """The sources of the MRs this render produced, in the order of `resources` (a dependent not rendered yet has
    no output yet)."""
    attribute = {output: (kind, attr) for output, kind, attr in OUTPUTS}
    wanted: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, name) -> (region, output)

    def add(region: str, output: str, name: str) -> None:
        wanted[(attribute[output][0], name)] = (region, output)

    for r in ctx.regions:
        add(r.name, "vpcId", names.vpc(ctx, r))
        add(r.name, "albDnsName", names.alb(ctx, r))
        add(r.name, "databaseEndpoint", names.database(ctx, r))
        add(r.name, "uploadsBucketArn", names.uploads_bucket(ctx, r))
        add(r.name, "queueUrl", names.queue(ctx, r))
    for secondary in ctx.secondaries:  # the requester lives in the primary, named per secondary: shown there
        add(secondary.name, "peeringConnectionId", names.peering(ctx, secondary))
    return tuple(_sources(wanted, attribute, resources))


def _sources(wanted: Mapping[tuple[str, str], tuple[str, str]], attribute: Mapping[str, tuple[str, str]],
             resources: Iterable[Mapping[str, Any]]) -> Iterable[OutputSource]:
    for res in resources:
        found = wanted.get((res["kind"], res["metadata"]["name"]))
        if found is not None:
            region, output = found
            yield OutputSource(region, output, res["kind"], res["metadata"]["name"], attribute[output][1])
