"""Builder: the per-region network - VPC over 3 AZs, public and private subnets, IGW, one NAT gateway per AZ,
route tables, NACLs and security groups with explicit rules.

Why one NAT per AZ: an AZ outage must not cut the other AZs' private subnets off (payments run there).
Why NACLs on top of security groups: a second, stateless fence the security team can audit per subnet tier;
they allow only what the SGs need, plus ephemeral return ports.
"""

from __future__ import annotations

from typing import Any

from . import names
from .adoption import adopted_vpc
from .context import Region, RenderContext, ref

COMPONENT = "network"
ANYWHERE = "0.0.0.0/0"
POSTGRES_PORT = 5432
HTTPS_PORT = 443
HTTP_PORT = 80
EPHEMERAL = (1024, 65535)


def build(ctx: RenderContext) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in ctx.regions:
        out += _vpc_and_subnets(ctx, r)
        out += _routing(ctx, r)
        if not adopted_vpc(ctx, r):
            # An adopted VPC keeps its own NACLs: ours would take its subnets over (a subnet has exactly one NACL).
            out += _nacls(ctx, r)
        out += _security_groups(ctx, r)
    return out


def _vpc_and_subnets(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    vpc = names.vpc(ctx, r)
    out = [ctx.mr("ec2/VPC", vpc, region=r, component=COMPONENT, for_provider={
        "cidrBlock": str(r.vpc_cidr), "enableDnsHostnames": True, "enableDnsSupport": True,
    })]
    for tier, blocks in (("public", r.public_subnets), ("private", r.private_subnets)):
        for i, (carved_zone, block) in enumerate(zip(r.settings.availability_zones, blocks, strict=True)):
            subnet = names.subnet(ctx, r, tier, i)
            cidr, zone = _adopted_subnet(ctx, subnet) or (str(block), carved_zone)
            out.append(ctx.mr("ec2/Subnet", subnet, region=r, component=COMPONENT,
                              for_provider={
                                  "vpcIdRef": ref(vpc), "cidrBlock": cidr, "availabilityZone": zone,
                                  # Nothing gets a public IP by launching here: the ALB and NAT carry their own.
                                  "mapPublicIpOnLaunch": False,
                              }))
    return out


def _adopted_subnet(ctx: RenderContext, subnet: str) -> tuple[str, str] | None:
    """An adopted subnet's real CIDR and zone (what AWS reports), so Manage never asks for a replacement; None for a
    subnet we create, or while the provider has not reported it yet (then the carved values stand, and
    replacement.py refuses a mismatch once it reports)."""
    if ("ec2/Subnet", subnet) not in ctx.adopted:
        return None
    cidr = ctx.observed.attribute("Subnet", subnet, "cidrBlock")
    zone = ctx.observed.attribute("Subnet", subnet, "availabilityZone")
    return (cidr, zone) if cidr and zone else None


def _routing(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    vpc = names.vpc(ctx, r)
    igw = names.internet_gateway(ctx, r)
    public_rt = names.public_route_table(ctx, r)
    if adopted_vpc(ctx, r):
        return _adopted_routing(ctx, r)
    out = [
        ctx.mr("ec2/InternetGateway", igw, region=r, component=COMPONENT, for_provider={"vpcIdRef": ref(vpc)}),
        ctx.mr("ec2/RouteTable", public_rt, region=r, component=COMPONENT, for_provider={"vpcIdRef": ref(vpc)}),
        ctx.mr("ec2/Route", ctx.names.regional("route-public-internet", r.name), region=r, component=COMPONENT,
               tier=1, for_provider={"routeTableIdRef": ref(public_rt), "destinationCidrBlock": ANYWHERE,
                                     "gatewayIdRef": ref(igw)}),
    ]
    for i in range(3):
        az = "abc"[i]
        eip = ctx.names.regional(f"eip-nat-{az}", r.name)
        nat = names.nat_gateway(ctx, r, i)
        private_rt = names.private_route_table(ctx, r, i)
        public_subnet = names.subnet(ctx, r, "public", i)
        private_subnet = names.subnet(ctx, r, "private", i)
        out += [
            ctx.mr("ec2/EIP", eip, region=r, component=COMPONENT, for_provider={"domain": "vpc"}),
            ctx.mr("ec2/NATGateway", nat, region=r, component=COMPONENT, for_provider={
                "allocationIdRef": ref(eip), "subnetIdRef": ref(public_subnet), "connectivityType": "public",
            }),
            ctx.mr("ec2/RouteTable", private_rt, region=r, component=COMPONENT, for_provider={"vpcIdRef": ref(vpc)}),
            ctx.mr("ec2/Route", ctx.names.regional(f"route-private-{az}-nat", r.name), region=r,
                   component=COMPONENT, tier=1, for_provider={
                       "routeTableIdRef": ref(private_rt), "destinationCidrBlock": ANYWHERE,
                       "natGatewayIdRef": ref(nat)}),
            ctx.mr("ec2/RouteTableAssociation", ctx.names.regional(f"rta-public-{az}", r.name), region=r,
                   component=COMPONENT, for_provider={"subnetIdRef": ref(public_subnet),
                                                      "routeTableIdRef": ref(public_rt)}),
            ctx.mr("ec2/RouteTableAssociation", ctx.names.regional(f"rta-private-{az}", r.name), region=r,
                   component=COMPONENT, for_provider={"subnetIdRef": ref(private_subnet),
                                                      "routeTableIdRef": ref(private_rt)}),
        ]
    return out


def _adopted_routing(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    """An existing VPC's gateways and route tables, observed under the same names as ours (so peering routes and
    VPC endpoints point at them). Their default routes, the NAT gateways' Elastic IPs and the route table
    associations exist in AWS already and are not ours: not rendered, so nothing creates a second 0.0.0.0/0 route
    (AWS refuses it: RouteAlreadyExists) or moves a subnet to another table."""
    vpc = names.vpc(ctx, r)
    out = [
        ctx.mr("ec2/InternetGateway", names.internet_gateway(ctx, r), region=r, component=COMPONENT,
               for_provider={"vpcIdRef": ref(vpc)}),
        ctx.mr("ec2/RouteTable", names.public_route_table(ctx, r), region=r, component=COMPONENT,
               for_provider={"vpcIdRef": ref(vpc)}),
    ]
    for i in range(3):
        out += [
            ctx.mr("ec2/NATGateway", names.nat_gateway(ctx, r, i), region=r, component=COMPONENT, for_provider={
                "subnetIdRef": ref(names.subnet(ctx, r, "public", i)), "connectivityType": "public"}),
            ctx.mr("ec2/RouteTable", names.private_route_table(ctx, r, i), region=r, component=COMPONENT,
                   for_provider={"vpcIdRef": ref(vpc)}),
        ]
    return out


# NACL rule numbers. Fixed rules have fixed numbers; a peer VPC's rule is PEER_RULE_BASE + the peer region's number
# (aws_facts.AWS_REGIONS), so adding or removing a region adds or removes exactly its own rule and renumbers none.
# Every field of a NACL rule is ForceNew, so no number may come back with other contents: the private tier's
# return-traffic rule is 900, a number the positional scheme this replaced (100, 110, ... 200) never used; the rules
# renamed by that change are created under their new numbers and the old ones pruned, none updated in place.
PEER_RULE_BASE = 1000
PRIVATE_EPHEMERAL_RULE = 900


def _peers(ctx: RenderContext, r: Region) -> tuple[Region, ...]:
    """The regions this region talks to over peering: the hub talks to every secondary, a secondary only to the hub
    (as the peering builder wires it)."""
    return ctx.secondaries if r.primary else (ctx.primary,)


def _nacls(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    vpc = names.vpc(ctx, r)
    https = r.certificate_arn is not None
    tiers: dict[str, list[tuple[int, bool, str, int, int, str]]] = {
        # (rule number, egress, protocol, from, to, cidr); numbers are fixed, so the numbers (and MR names) of the
        # other rules do not move when HTTPS is switched on or off.
        "public": [
            *([(100, False, "tcp", HTTPS_PORT, HTTPS_PORT, ANYWHERE)] if https else []),  # only with HTTPS
            (110, False, "tcp", HTTP_PORT, HTTP_PORT, ANYWHERE),
            (120, False, "tcp", *EPHEMERAL, ANYWHERE),  # return traffic of NAT'd and ALB connections
            (130, False, "-1", 0, 0, str(r.vpc_cidr)),  # peers never reach the public tier
            (100, True, "-1", 0, 0, ANYWHERE),
        ],
        "private": [
            (100, False, "-1", 0, 0, str(r.vpc_cidr)),
            (PRIVATE_EPHEMERAL_RULE, False, "tcp", *EPHEMERAL, ANYWHERE),  # return traffic through the NAT
            *[(PEER_RULE_BASE + p.number, False, "-1", 0, 0, str(p.vpc_cidr)) for p in _peers(ctx, r)],
            (100, True, "-1", 0, 0, ANYWHERE),
        ],
    }
    out: list[dict[str, Any]] = []
    for tier, rules in tiers.items():
        nacl = ctx.names.regional(f"nacl-{tier}", r.name)
        out.append(ctx.mr("ec2/NetworkACL", nacl, region=r, component=COMPONENT, for_provider={
            "vpcIdRef": ref(vpc), "subnetIdRefs": [ref(names.subnet(ctx, r, tier, i)) for i in range(3)],
        }))
        for number, egress, protocol, low, high, cidr in rules:
            direction = "out" if egress else "in"
            rule: dict[str, Any] = {"networkAclIdRef": ref(nacl), "ruleNumber": number, "egress": egress,
                                    "protocol": protocol, "ruleAction": "allow", "cidrBlock": cidr}
            if protocol != "-1":
                rule |= {"fromPort": low, "toPort": high}
            out.append(ctx.mr("ec2/NetworkACLRule", ctx.names.regional(f"nacl-{tier}-{direction}-{number}", r.name),
                              region=r, component=COMPONENT, for_provider=rule))
    return out


def _security_groups(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    vpc = names.vpc(ctx, r)
    port = ctx.spec.service.container_port
    sg = {role: names.security_group(ctx, r, role) for role in ("alb", "service", "database", "lambda")}
    purposes = {
        "alb": "ALB: HTTPS/HTTP from the internet, to the service only",
        "service": "ECS service: from the ALB only",
        "database": "RDS: PostgreSQL from the service only",
        "lambda": "Payments Lambda: HTTPS to AWS APIs and the payments API only",
    }
    out = [ctx.mr("ec2/SecurityGroup", name, region=r, component=COMPONENT, for_provider={
        "vpcIdRef": ref(vpc), "name": name, "description": purposes[role], "revokeRulesOnDelete": True,
    }) for role, name in sg.items()]
    # (sg role, direction, port, peer: ("cidr", value) | ("sg", role), description)
    rules: list[tuple[str, str, int, tuple[str, str], str]] = [
        # 443 only where an HTTPS listener exists: an open port with nothing behind it is exposure for nothing.
        *([("alb", "in", HTTPS_PORT, ("cidr", ANYWHERE), "HTTPS from the internet")] if r.certificate_arn else []),
        ("alb", "in", HTTP_PORT, ("cidr", ANYWHERE), "HTTP from the internet (redirected to HTTPS or refused)"),
        ("alb", "out", port, ("sg", "service"), "to the service tasks"),
        ("service", "in", port, ("sg", "alb"), "from the ALB"),
        ("service", "out", POSTGRES_PORT, ("sg", "database"), "to the database"),
        ("service", "out", HTTPS_PORT, ("cidr", ANYWHERE), "AWS APIs and the payments API over the NAT"),
        ("database", "in", POSTGRES_PORT, ("sg", "service"), "from the service"),
        # No Lambda <-> database rules: the payments handler never opens a database connection (it talks to
        # DynamoDB, SQS, SSM and the payments API only: lambda/payments/handler.py).
        ("lambda", "out", HTTPS_PORT, ("cidr", ANYWHERE), "AWS APIs and the payments API over the NAT"),
    ]
    for role, direction, rule_port, (peer_type, peer), description in rules:
        key = "ec2/SecurityGroupIngressRule" if direction == "in" else "ec2/SecurityGroupEgressRule"
        peer_label = peer if peer_type == "sg" else "any"
        fp: dict[str, Any] = {"securityGroupIdRef": ref(sg[role]), "ipProtocol": "tcp", "fromPort": rule_port,
                              "toPort": rule_port, "description": description}
        if peer_type == "sg":
            fp["referencedSecurityGroupIdRef"] = ref(sg[peer])
        else:
            fp["cidrIpv4"] = peer
        name = ctx.names.regional(f"sgr-{role}-{direction}-{rule_port}-{peer_label}", r.name)
        out.append(ctx.mr(key, name, region=r, component=COMPONENT, for_provider=fp))
    return out
