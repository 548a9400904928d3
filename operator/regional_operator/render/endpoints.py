"""Builder: gateway VPC endpoints for S3 and DynamoDB in each region, on the three private route tables.

Traffic from the private subnets to S3 and DynamoDB in the region stays on the AWS network instead of leaving
through the NAT gateways, and the endpoint policy is a second fence (a data perimeter, PCI DSS 1.3.2 / 1.4.x):
through these endpoints, principals of this account reach only this deployment's own buckets and ledger table
(plus, for a private ECR image, the ECR layer bucket the image pull reads). Every request to S3 or DynamoDB in
the region from the private subnets goes through the endpoint once the route is there, so anything not named
here is refused from inside the VPC.

Provider facts (v2.6.0): `VPCEndpoint` moved `route_table_ids` (and `subnet_ids`, `security_group_ids`) to status
(config/namespaced/ec2/config.go), so the routes come from one `VPCEndpointRouteTableAssociation` per private
route table (its Refs copy the endpoint's and the route table's `status.atProvider.id`, the vpce-/rtb- ids).
Interface endpoints (SQS, SSM, KMS, Logs, STS, ECR) need VPCEndpointSubnetAssociation and
VPCEndpointSecurityGroupAssociation for their subnets and security group, kinds that are not in the provider CRD
set this project renders against; until they are, those calls go through the NAT (see docs/security.md).
"""

from __future__ import annotations

from typing import Any, Final

from . import names
from .context import Region, RenderContext, each_region, policy_json, ref
from .service import private_ecr_image_region
from .storage import bucket_arn

COMPONENT: Final = "endpoints"
LEDGER_ACTIONS: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")  # payments.py's grant
BUCKET_OBJECT_ACTIONS: Final = ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")


def service_name(r: Region, service: str) -> str:
    """com.amazonaws.<region>.<service> (China regions prefix it with cn.)."""
    prefix = "cn.com.amazonaws" if r.partition == "aws-cn" else "com.amazonaws"
    return f"{prefix}.{r.name}.{service}"


def _own_account(ctx: RenderContext) -> dict[str, Any]:
    return {"StringEquals": {"aws:PrincipalAccount": ctx.spec.aws_account_id}}


def s3_policy(ctx: RenderContext, r: Region) -> str:
    buckets = [names.uploads_bucket_name(ctx, r), names.artifacts_bucket(ctx, r)]
    arns = [bucket_arn(b, r) for b in buckets]
    statements: list[dict[str, Any]] = [
        {"Sid": "OwnBucketsOnly", "Effect": "Allow", "Principal": "*", "Action": list(BUCKET_OBJECT_ACTIONS),
         "Resource": [f"{a}/*" for a in arns], "Condition": _own_account(ctx)},
        {"Sid": "ListOwnBuckets", "Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
         "Resource": arns, "Condition": _own_account(ctx)},
    ]
    if private_ecr_image_region(ctx) == r.name:
        # ECR serves image layers from this AWS-owned bucket; the ECR guide's endpoint policy names it exactly.
        # https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-setting-up-s3-gateway
        statements.append({"Sid": "EcrImageLayers", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:{r.partition}:s3:::prod-{r.name}-starport-layer-bucket/*"})
    return policy_json(statements)


def dynamodb_policy(ctx: RenderContext, r: Region) -> str:
    return policy_json([{
        "Sid": "OwnLedgerReplicaOnly", "Effect": "Allow", "Principal": "*", "Action": list(LEDGER_ACTIONS),
        "Resource": ctx.arn("dynamodb", r, f"table/{names.ledger_table_name(ctx)}"), "Condition": _own_account(ctx),
    }])


def _region(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for service, policy in (("s3", s3_policy(ctx, r)), ("dynamodb", dynamodb_policy(ctx, r))):
        endpoint = ctx.names.regional(f"vpce-{service}", r.name)
        out.append(ctx.mr("ec2/VPCEndpoint", endpoint, region=r, component=COMPONENT, for_provider={
            "vpcIdRef": ref(names.vpc(ctx, r)),
            "serviceName": service_name(r, service),
            "vpcEndpointType": "Gateway",
            "policy": policy,
        }))
        for i in range(3):
            out.append(ctx.mr("ec2/VPCEndpointRouteTableAssociation",
                              ctx.names.regional(f"vpce-{service}-rt-private-{'abc'[i]}", r.name), region=r,
                              component=COMPONENT, for_provider={
                                  "vpcEndpointIdRef": ref(endpoint),
                                  "routeTableIdRef": ref(names.private_route_table(ctx, r, i)),
                              }))
    return out


build = each_region(_region)
