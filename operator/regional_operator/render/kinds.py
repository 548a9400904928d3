"""Every Crossplane kind the renderer emits, with the facts the operator needs about it.

One table, so the Helm chart's RBAC, the ManagedResourceActivationPolicy, the deletion order and the watch list
all come from the same place (tests check the table against the provider CRDs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

API_VERSION_SUFFIX: Final = ".aws.m.upbound.io"
VERSION: Final = "v1beta1"


@dataclass(frozen=True)
class Kind:
    """A managed-resource kind. `tier` orders deletion: lower tiers go first (wiring before what it points at,
    keys last). `stateful` kinds keep their data when the CR's lifecycle is Retain."""

    service: str
    kind: str
    plural: str
    tier: int
    stateful: bool = False
    taggable: bool = True
    regional: bool = True

    @property
    def group(self) -> str:
        return f"{self.service}{API_VERSION_SUFFIX}"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{VERSION}"

    @property
    def key(self) -> str:
        return f"{self.service}/{self.kind}"


# Deletion tiers: 0 cross-links and event wiring, 1 consumers, 2 services and data, 3 network parts and IAM,
# 4 VPC and aliases, 5 KMS keys (everything else is encrypted with them, so they go last).
_KINDS: Final[tuple[Kind, ...]] = (
    Kind("ec2", "VPC", "vpcs", 4),
    Kind("ec2", "Subnet", "subnets", 3),
    Kind("ec2", "InternetGateway", "internetgateways", 3),
    Kind("ec2", "EIP", "eips", 3),
    Kind("ec2", "NATGateway", "natgateways", 2),
    Kind("ec2", "RouteTable", "routetables", 3),
    Kind("ec2", "Route", "routes", 0, taggable=False),
    Kind("ec2", "RouteTableAssociation", "routetableassociations", 1, taggable=False),
    Kind("ec2", "NetworkACL", "networkacls", 3),
    Kind("ec2", "NetworkACLRule", "networkaclrules", 2, taggable=False),
    Kind("ec2", "SecurityGroup", "securitygroups", 3),
    Kind("ec2", "SecurityGroupIngressRule", "securitygroupingressrules", 2),
    Kind("ec2", "SecurityGroupEgressRule", "securitygroupegressrules", 2),
    Kind("ec2", "VPCPeeringConnection", "vpcpeeringconnections", 1),
    Kind("ec2", "VPCPeeringConnectionAccepter", "vpcpeeringconnectionaccepters", 0),
    Kind("ec2", "VPCEndpoint", "vpcendpoints", 2),
    Kind("ec2", "VPCEndpointRouteTableAssociation", "vpcendpointroutetableassociations", 1, taggable=False),
    Kind("ec2", "FlowLog", "flowlogs", 1),
    Kind("kms", "Key", "keys", 5, stateful=True),
    Kind("kms", "Alias", "aliases", 4, taggable=False),
    Kind("rds", "SubnetGroup", "subnetgroups", 3),
    Kind("rds", "Instance", "instances", 2, stateful=True),
    Kind("rds", "ParameterGroup", "parametergroups", 3),
    Kind("dynamodb", "Table", "tables", 2, stateful=True),
    Kind("s3", "Bucket", "buckets", 2, stateful=True),
    Kind("s3", "BucketVersioning", "bucketversionings", 1, taggable=False),
    Kind("s3", "BucketServerSideEncryptionConfiguration", "bucketserversideencryptionconfigurations", 1,
         taggable=False),
    Kind("s3", "BucketLifecycleConfiguration", "bucketlifecycleconfigurations", 1, taggable=False),
    Kind("s3", "BucketPublicAccessBlock", "bucketpublicaccessblocks", 1, taggable=False),
    Kind("s3", "BucketPolicy", "bucketpolicies", 1, taggable=False),
    Kind("s3", "BucketReplicationConfiguration", "bucketreplicationconfigurations", 0, taggable=False),
    Kind("s3", "Object", "objects", 1),
    Kind("iam", "Role", "roles", 3, regional=False),
    Kind("iam", "RolePolicy", "rolepolicies", 2, taggable=False, regional=False),
    Kind("lambda", "Function", "functions", 1),
    Kind("lambda", "EventSourceMapping", "eventsourcemappings", 0),
    Kind("sqs", "Queue", "queues", 2),
    Kind("sqs", "QueuePolicy", "queuepolicies", 1, taggable=False),
    Kind("cloudwatchlogs", "Group", "groups", 2),
    Kind("ssm", "Parameter", "parameters", 1),
    Kind("ecs", "Cluster", "clusters", 2),
    Kind("ecs", "TaskDefinition", "taskdefinitions", 2),
    Kind("ecs", "Service", "services", 1),
    Kind("servicediscovery", "PrivateDNSNamespace", "privatednsnamespaces", 3),
    Kind("servicediscovery", "Service", "services", 2),
    Kind("elbv2", "LB", "lbs", 2),
    Kind("elbv2", "LBTargetGroup", "lbtargetgroups", 2),
    Kind("elbv2", "LBListener", "lblisteners", 1),
    Kind("wafv2", "WebACL", "webacls", 2),
    Kind("wafv2", "WebACLAssociation", "webaclassociations", 0, taggable=False),
    Kind("wafv2", "WebACLLoggingConfiguration", "webaclloggingconfigurations", 0, taggable=False),
    Kind("sns", "Topic", "topics", 2),
    Kind("sns", "TopicPolicy", "topicpolicies", 1, taggable=False),
    Kind("cloudwatch", "MetricAlarm", "metricalarms", 0),
)

KINDS: Final[dict[str, Kind]] = {k.key: k for k in _KINDS}
BY_API_KIND: Final[dict[tuple[str, str], Kind]] = {(k.api_version, k.kind): k for k in _KINDS}


def kind(key: str) -> Kind:
    """Look up a kind by `service/Kind`; a KeyError here is a programming error in a builder."""
    return KINDS[key]


def kubectl_resources() -> str:
    """Every kind above as one `kubectl get` argument (plural.group, comma-separated): the plan command and the
    development tools list a deployment's MRs with it."""
    return ",".join(sorted(f"{k.plural}.{k.group}" for k in KINDS.values()))
