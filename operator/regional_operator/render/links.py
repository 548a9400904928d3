"""Builder: cross-region VPC peering. The primary is the hub: every secondary peers with it, never with another
secondary (N regions -> N-1 peerings, and replication and failover both flow through the primary).

The requester lives in the primary region (`peerRegion` = the secondary, `autoAccept: false` because AWS cannot
auto-accept across regions); the accepter lives in the secondary. The accepter and the routes on both sides need
the peering connection id, which only exists once AWS created the requester, so they wait for it (Pending).
Routes go into the private route tables only: peered traffic never has a path to or from the internet.
"""

from __future__ import annotations

from typing import Any

from . import names
from .context import Region, RenderContext, ref

COMPONENT = "peering"


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    primary = ctx.primary
    for secondary in ctx.secondaries:
        requester = names.peering(ctx, secondary)
        out.append(ctx.mr("ec2/VPCPeeringConnection", requester, region=primary, component=COMPONENT, for_provider={
            "vpcIdRef": ref(names.vpc(ctx, primary)),
            "peerVpcIdRef": ref(names.vpc(ctx, secondary)),
            "peerRegion": secondary.name,
            "peerOwnerId": ctx.spec.aws_account_id,
            "autoAccept": False,
        }))
        accepter = ctx.names.regional(f"pcx-accept-{primary.code}", secondary.name)
        peering_id = ctx.observed_value("VPCPeeringConnection", requester, "id",
                                        needed_by=("VPCPeeringConnectionAccepter", accepter))
        if peering_id is None:
            continue
        # Routes carry each side's CIDR: an adopted VPC's must be the real one (RenderContext checks it once known).
        if not all([ctx.adopted_cidr_known(r, needed_by=("Route", requester)) for r in (primary, secondary)]):
            continue
        out.append(ctx.mr("ec2/VPCPeeringConnectionAccepter", accepter, region=secondary, component=COMPONENT,
                          for_provider={"vpcPeeringConnectionId": peering_id, "autoAccept": True}))
        out += _routes(ctx, primary, secondary, peering_id)
        out += _routes(ctx, secondary, primary, peering_id)
    return out


def _routes(ctx: RenderContext, here: Region, peer: Region, peering_id: str) -> list[dict[str, Any]]:
    """A route to the peer's CIDR in each of `here`'s private route tables."""
    return [
        ctx.mr("ec2/Route", ctx.names.regional(f"route-private-{'abc'[i]}-to-{peer.code}", here.name), region=here,
               component=COMPONENT, for_provider={
                   "routeTableIdRef": ref(names.private_route_table(ctx, here, i)),
                   "destinationCidrBlock": str(peer.vpc_cidr),
                   "vpcPeeringConnectionId": peering_id,
               })
        for i in range(3)
    ]
