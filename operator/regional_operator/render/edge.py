"""Builder: the internet edge of each region: ALB, target group, listeners and a WAF web ACL.

The ALB sits in the three public subnets and forwards to an `ip` target group (Fargate tasks register by IP)
on the container port. With a certificate for the region (`spec.regions[].certificateArn`, else
`spec.edge.certificateArn`; ACM certificates are regional, so parse_spec refuses one of another region) the ALB
serves HTTPS 443 (TLS 1.3 + 1.2 ECDHE-GCM policy) and port 80 only redirects; without one (admitted only outside
production: CEL on spec) port 80 answers every request with a fixed 403, nothing is ever forwarded in plain HTTP
and the ECS service runs without the target group (service.py). Access logs go to the region's dedicated SSE-S3
log bucket (logging.py: ALB log delivery cannot write SSE-KMS objects); WAF logs go to an `aws-waf-logs-` log
group (logging.py).

The WAF rules are the AWS API `Rules` JSON (`ruleJson`, the provider's only way to set rules): the region's geo
block list, a per-IP rate limit, then the AWS managed rule groups. The association needs the ALB's ARN as a
literal (the provider's resourceArnRef only points at API Gateway stages), so it waits for the observed ARN.
"""

from __future__ import annotations

from typing import Any, Final

from ..aws_facts import ALB_TLS_POLICY, WAF_MANAGED_RULE_GROUPS
from . import names
from .context import Pending, Region, RenderContext, compact_json, each_region, ref
from .logging import ALB_LOGS_PREFIX, alb_logs_bucket

COMPONENT: Final = "edge"
# TLS 1.3 + 1.2 with forward-secret AEAD ciphers only (aws_facts.ALB_TLS_POLICY, with its documented suites).
TLS_POLICY: Final = ALB_TLS_POLICY
# What the HTTP listener answers without a certificate: a refusal, never the service in plain text.
HTTPS_REQUIRED: Final = {"contentType": "text/plain", "messageBody": "HTTPS required", "statusCode": "403"}
RATE_WINDOW_SECONDS: Final = 300  # the limit in region settings is per 5 minutes
HEALTHY_HTTP_CODES: Final = "200-399"


def _visibility(metric: str) -> dict[str, Any]:
    return {"CloudWatchMetricsEnabled": True, "MetricName": metric, "SampledRequestsEnabled": True}


def waf_rules(r: Region) -> list[dict[str, Any]]:
    """The region's WAF rules in evaluation order (priority = position, so priorities are unique)."""
    rules: list[dict[str, Any]] = []
    countries = sorted(set(r.settings.waf_blocked_countries))
    if countries:  # GeoMatchStatement refuses an empty list; an empty setting means "block no country"
        rules.append({
            "Name": "block-countries",
            "Action": {"Block": {}},
            "Statement": {"GeoMatchStatement": {"CountryCodes": countries}},
        })
    rules.append({
        "Name": "rate-limit-per-ip",
        "Action": {"Block": {}},
        "Statement": {"RateBasedStatement": {
            "Limit": r.settings.waf_rate_limit_per_5min,
            "AggregateKeyType": "IP",
            "EvaluationWindowSec": RATE_WINDOW_SECONDS,
        }},
    })
    for group in WAF_MANAGED_RULE_GROUPS:
        rules.append({
            "Name": group,
            "OverrideAction": {"None": {}},  # keep each managed rule's own action
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": group}},
        })
    for priority, rule in enumerate(rules):
        rule["Priority"] = priority
        rule["VisibilityConfig"] = _visibility(rule["Name"])
    return rules


def forwarding_listener(ctx: RenderContext, r: Region) -> str | None:
    """The listener that forwards to the target group: the HTTPS one, with a certificate. Without one nothing
    forwards (the HTTP listener refuses), so the target group stays unattached (None). Nor does an adopted listener
    that is only observed (it forwards where the estate set it to), or one not rendered at all (see _listeners)."""
    if not r.certificate_arn:
        return None
    https = names.listener_https(ctx, r)
    if ctx.observe_only("elbv2/LBListener", https) or not _listener_rendered(ctx, r, https):
        return None
    return https


def _lb_observed_only(ctx: RenderContext, r: Region) -> bool:
    return ctx.observe_only("elbv2/LB", names.alb(ctx, r))


def _listener_rendered(ctx: RenderContext, r: Region, listener: str) -> bool:
    """An observed-only adopted ALB gets no listener of ours beside its own (AWS refuses a second listener on a
    port, and a new one would change what it serves): only the listeners adopted with it are rendered."""
    return not _lb_observed_only(ctx, r) or ("elbv2/LBListener", listener) in ctx.adopted


def _forward(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    return [{"type": "forward", "targetGroupArnRef": ref(names.target_group(ctx, r))}]


def _listeners(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    """HTTPS + redirecting HTTP with a certificate; without one only an HTTP listener that refuses (fixed 403).
    The HTTP listener keeps its name in both shapes, so adding a certificate later updates it in place."""
    lb = ref(names.alb(ctx, r))
    http_name = names.listener_http(ctx, r)
    cert = r.certificate_arn
    if cert is None:
        if not _listener_rendered(ctx, r, http_name):
            return []
        return [ctx.mr("elbv2/LBListener", http_name, region=r, component=COMPONENT, for_provider={
            "loadBalancerArnRef": lb, "port": 80, "protocol": "HTTP",
            "defaultAction": [{"type": "fixed-response", "fixedResponse": dict(HTTPS_REQUIRED)}],
        })]
    https = ctx.mr("elbv2/LBListener", names.listener_https(ctx, r), region=r, component=COMPONENT,
                   for_provider={
                       "loadBalancerArnRef": lb, "port": 443, "protocol": "HTTPS", "certificateArn": cert,
                       "sslPolicy": TLS_POLICY, "defaultAction": _forward(ctx, r),
                   })
    redirect = ctx.mr("elbv2/LBListener", http_name, region=r, component=COMPONENT, for_provider={
        "loadBalancerArnRef": lb, "port": 80, "protocol": "HTTP",
        "defaultAction": [{"type": "redirect",
                           "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}],
    })
    return [mr for mr in (https, redirect) if _listener_rendered(ctx, r, mr["metadata"]["name"])]


def _region(ctx: RenderContext, r: Region) -> list[dict[str, Any]]:
    alb = names.alb(ctx, r)
    waf = names.waf(ctx, r)
    out = [
        ctx.mr("elbv2/LB", alb, region=r, component=COMPONENT, for_provider={
            "name": names.alb_name(ctx, r),
            "loadBalancerType": "application",
            "internal": False,
            "ipAddressType": "ipv4",
            "subnetRefs": [ref(names.subnet(ctx, r, "public", i)) for i in range(3)],
            "securityGroupRefs": [ref(names.security_group(ctx, r, "alb"))],
            # the operator owns the lifecycle; deleting the CR must be able to delete the ALB
            "enableDeletionProtection": False,
            "dropInvalidHeaderFields": True,
            "desyncMitigationMode": "defensive",
            "enableHttp2": True,
            "enableWafFailOpen": False,
            "accessLogs": {"bucketRef": ref(alb_logs_bucket(ctx, r)), "enabled": True, "prefix": ALB_LOGS_PREFIX},
        }),
        ctx.mr("elbv2/LBTargetGroup", names.target_group(ctx, r), region=r, component=COMPONENT, for_provider={
            "name": names.target_group(ctx, r),
            "targetType": "ip",
            "port": ctx.spec.service.container_port,
            "protocol": "HTTP",
            "protocolVersion": "HTTP1",
            "vpcIdRef": ref(names.vpc(ctx, r)),
            "deregistrationDelay": "30",
            "healthCheck": {
                "enabled": True,
                "path": ctx.spec.service.health_check_path,
                "protocol": "HTTP",
                "port": "traffic-port",
                "matcher": HEALTHY_HTTP_CODES,
                "interval": 15,
                "timeout": 5,
                "healthyThreshold": 2,
                "unhealthyThreshold": 3,
            },
        }),
        *_listeners(ctx, r),
        ctx.mr("wafv2/WebACL", waf, region=r, component=COMPONENT, for_provider={
            "name": waf,
            "description": f"payments ALB protection, {r.name}",
            "scope": "REGIONAL",
            "defaultAction": {"allow": {}},
            "visibilityConfig": {"cloudwatchMetricsEnabled": True, "metricName": waf, "sampledRequestsEnabled": True},
            "ruleJson": compact_json(waf_rules(r)),
        }),
    ]
    association = ctx.names.regional("waf-alb", r.name)
    if _lb_observed_only(ctx, r):
        # AssociateWebACL replaces whatever WebACL the ALB has: an observed ALB keeps the estate's until Manage.
        ctx.pending.append(Pending("WebACLAssociation", association, "adopt.loadBalancer mode Manage (the "
                                   "observed ALB keeps its own WebACL)"))
        return out
    lb_arn = ctx.observed_value("LB", alb, "arn", needed_by=("WebACLAssociation", association))
    if lb_arn:
        out.append(ctx.mr("wafv2/WebACLAssociation", association, region=r, component=COMPONENT, for_provider={
            "resourceArn": lb_arn,
            "webAclArnRef": ref(waf),
        }))
    return out


build = each_region(_region)
