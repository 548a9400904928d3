"""The edge builder: internet-facing ALB in the public subnets, ip target group for Fargate, HTTPS only when a
certificate is given, and a per-region WAF whose association waits for the ALB's ARN."""

from __future__ import annotations

import json
from typing import Any

import pytest
from regional_operator.aws_facts import (
    ALB_TLS_POLICY,
    ALB_TLS_POLICY_CIPHERS,
    ALB_TLS_POLICY_PROTOCOLS,
    WAF_MANAGED_RULE_GROUPS,
)
from regional_operator.errors import SpecValidationError
from regional_operator.render import edge, logging, names
from regional_operator.spec import PRODUCTION_ENVIRONMENTS

from tests.crdschema import validate_mr
from tests.unit.render.conftest import without_certificates

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
CERT_USE2 = "arn:aws:acm:us-east-2:123456789012:certificate/1c2d3e4f-5061-7283-94a5-b6c7d8e9f0a1"
CERTS = {"us-east-1": CERT, "us-east-2": CERT_USE2}


def with_certificates(cr: dict[str, Any]) -> dict[str, Any]:
    """Each region its own region's certificate (ACM certificates are regional)."""
    for region in cr["spec"]["regions"]:
        region["certificateArn"] = CERTS.get(region["name"], CERT.replace("us-east-1", region["name"]))
    return cr


def component(result: Any, name: str) -> list[dict[str, Any]]:
    return [m for m in result.resources if m["metadata"]["labels"]["platform.regional.io/component"] == name]


def find(result: Any, kind: str, name: str) -> dict[str, Any] | None:
    return next((m for m in result.resources if m["kind"] == kind and m["metadata"]["name"] == name), None)


def rules(result: Any, ctx: Any, r: Any) -> list[dict[str, Any]]:
    acl = find(result, "WebACL", ctx.names.regional("waf", r.name))
    assert acl is not None
    return json.loads(acl["spec"]["forProvider"]["ruleJson"])


def test_every_edge_mr_is_valid(make_cr, render_cr, observe_all):
    for cr in (make_cr(2), with_certificates(make_cr(2)), make_cr(3)):
        for observed in (None, observe_all(cr)):
            mrs = component(render_cr(cr, observed), "edge")
            assert mrs
            assert [e for m in mrs for e in validate_mr(m)] == []


def test_alb_is_internet_facing_in_the_public_subnets(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        fp = find(result, "LB", names.alb(ctx, r))["spec"]["forProvider"]
        assert fp["loadBalancerType"] == "application" and fp["internal"] is False
        assert [s["name"] for s in fp["subnetRefs"]] == [names.subnet(ctx, r, "public", i) for i in range(3)]
        assert fp["securityGroupRefs"] == [{"name": names.security_group(ctx, r, "alb")}]
        assert fp["dropInvalidHeaderFields"] is True
        assert fp["enableDeletionProtection"] is False
        tg = find(result, "LBTargetGroup", names.target_group(ctx, r))["spec"]["forProvider"]
        assert (tg["targetType"], tg["port"], tg["protocol"]) == ("ip", 8080, "HTTP")
        assert tg["healthCheck"]["path"] == "/"  # what the default image (nginx-unprivileged) serves
        assert tg["vpcIdRef"] == {"name": names.vpc(ctx, r)}


def with_edge_only(cr: dict[str, Any], arn: str) -> dict[str, Any]:
    """One spec.edge.certificateArn and no region certificate of its own."""
    cr = without_certificates(cr)
    cr["spec"]["edge"] = {"certificateArn": arn}
    return cr


def listeners(result: Any) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m["spec"]["forProvider"] for m in result.resources if m["kind"] == "LBListener"}


def test_without_certificate_http_refuses_and_nothing_is_forwarded(make_cr, render_cr, context_for):
    """Outside production a deployment may go without a certificate; plain HTTP still never reaches the service:
    the only listener answers a fixed 403 (issue 13: both examples used to forward plain HTTP)."""
    cr = without_certificates(make_cr(2, environment="staging"))
    ctx = context_for(cr)
    found = listeners(render_cr(cr))
    assert len(found) == len(ctx.regions)
    for r in ctx.regions:
        http = found[ctx.names.regional("listener-http", r.name)]
        assert (http["port"], http["protocol"]) == (80, "HTTP")
        assert http["loadBalancerArnRef"] == {"name": names.alb(ctx, r)}
        assert http["defaultAction"] == [{"type": "fixed-response", "fixedResponse": {
            "contentType": "text/plain", "messageBody": "HTTPS required", "statusCode": "403"}}]
    assert not any(a["type"] == "forward" for fp in found.values() for a in fp["defaultAction"])


def test_production_without_certificate_is_refused_naming_the_field(make_cr, render_cr):
    for environment in PRODUCTION_ENVIRONMENTS:
        with pytest.raises(SpecValidationError) as refused:
            render_cr(without_certificates(make_cr(2, environment=environment)))
        assert refused.value.field == "spec.edge.certificateArn"
        assert "required" in refused.value.rule


def test_tls_policy_is_tls12_plus_with_forward_secret_aead_suites_only(make_cr, render_cr, context_for):
    """The policy the comment claims: TLS 1.2/1.3 only, and every TLS 1.2 suite ECDHE + GCM (AWS's table)."""
    assert edge.TLS_POLICY == ALB_TLS_POLICY == "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    assert set(ALB_TLS_POLICY_PROTOCOLS) == {"TLSv1.2", "TLSv1.3"}
    for cipher in ALB_TLS_POLICY_CIPHERS:
        assert cipher.startswith("TLS_") or (cipher.startswith("ECDHE-") and "-GCM-" in cipher), cipher
    cr = make_cr(2, edge={"certificateArn": CERT})
    https = [fp for fp in listeners(render_cr(cr)).values() if fp["protocol"] == "HTTPS"]
    assert https and all(fp["sslPolicy"] == ALB_TLS_POLICY for fp in https)


def test_alb_access_logs_go_to_the_regions_log_bucket(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        fp = find(result, "LB", names.alb(ctx, r))["spec"]["forProvider"]
        assert fp["accessLogs"] == {"bucketRef": {"name": logging.alb_logs_bucket(ctx, r)}, "enabled": True,
                                    "prefix": logging.ALB_LOGS_PREFIX}


def test_with_certificate_https_forwards_and_http_redirects(make_cr, render_cr, context_for):
    cr = with_certificates(make_cr(2))
    ctx = context_for(cr)
    found = listeners(render_cr(cr))
    assert len(found) == 2 * len(ctx.regions)
    for r in ctx.regions:
        https = found[ctx.names.regional("listener-https", r.name)]
        assert (https["port"], https["protocol"], https["certificateArn"]) == (443, "HTTPS", CERTS[r.name])
        assert https["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
        assert https["defaultAction"][0]["targetGroupArnRef"] == {"name": names.target_group(ctx, r)}
        http = found[ctx.names.regional("listener-http", r.name)]  # same name as without a cert: in-place update
        assert http["defaultAction"] == [{"type": "redirect",
                                          "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}}]


def test_waf_rules_carry_each_regions_own_blocked_countries(two_region_cr, render_cr, context_for, defaults):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    blocked = {}
    for r in ctx.regions:
        (geo,) = [x for x in rules(result, ctx, r) if "GeoMatchStatement" in x["Statement"]]
        assert geo["Action"] == {"Block": {}}
        blocked[r.name] = geo["Statement"]["GeoMatchStatement"]["CountryCodes"]
        assert blocked[r.name] == sorted(defaults.regions[r.name].waf_blocked_countries)
    assert blocked["us-east-1"] != blocked["us-east-2"]
    assert "BY" in blocked["us-east-2"] and "BY" not in blocked["us-east-1"]


def test_waf_rules_have_rate_limit_and_every_managed_group(two_region_cr, render_cr, context_for):
    ctx = context_for(two_region_cr)
    result = render_cr(two_region_cr)
    for r in ctx.regions:
        found = rules(result, ctx, r)
        (rate,) = [x["Statement"]["RateBasedStatement"] for x in found if "RateBasedStatement" in x["Statement"]]
        assert rate["Limit"] == r.settings.waf_rate_limit_per_5min and rate["AggregateKeyType"] == "IP"
        managed = {x["Statement"]["ManagedRuleGroupStatement"]["Name"]: x for x in found
                   if "ManagedRuleGroupStatement" in x["Statement"]}
        assert set(managed) == set(WAF_MANAGED_RULE_GROUPS)
        assert all(x["OverrideAction"] == {"None": {}} and "Action" not in x for x in managed.values())
        assert len({x["Priority"] for x in found}) == len(found)
        assert len({x["Name"] for x in found}) == len(found)
        assert all(x["VisibilityConfig"]["CloudWatchMetricsEnabled"] for x in found)


def test_waf_rule_json_is_deterministic_and_follows_cr_overrides(make_cr, render_cr, context_for):
    cr = make_cr(2)
    cr["spec"]["regions"][1]["wafBlockedCountries"] = ["CN", "KP"]
    ctx = context_for(cr)
    first, second = render_cr(cr), render_cr(cr)
    for r in ctx.regions:
        acl = find(first, "WebACL", ctx.names.regional("waf", r.name))["spec"]["forProvider"]
        assert acl["ruleJson"] == find(second, "WebACL", ctx.names.regional("waf", r.name))["spec"]["forProvider"][
            "ruleJson"]
        assert acl["ruleJson"] == json.dumps(json.loads(acl["ruleJson"]), sort_keys=True, separators=(",", ":"))
        assert acl["scope"] == "REGIONAL" and acl["defaultAction"] == {"allow": {}}
    geo = next(x for x in rules(first, ctx, ctx.region("us-east-2")) if "GeoMatchStatement" in x["Statement"])
    assert geo["Statement"]["GeoMatchStatement"]["CountryCodes"] == ["CN", "KP"]


def test_waf_association_waits_for_the_alb_arn(two_region_cr, render_cr, observe_all, context_for):
    ctx = context_for(two_region_cr)
    before = render_cr(two_region_cr)
    after = render_cr(two_region_cr, observe_all(two_region_cr))
    for r in ctx.regions:
        name = ctx.names.regional("waf-alb", r.name)
        assert find(before, "WebACLAssociation", name) is None
        assert any(p.kind == "WebACLAssociation" and p.name == name and f"LB/{names.alb(ctx, r)}" in p.waits_for
                   for p in before.pending)
        assoc = find(after, "WebACLAssociation", name)
        assert assoc is not None
        assert assoc["spec"]["forProvider"]["resourceArn"].endswith(f":lb/{names.alb(ctx, r)}")
        assert assoc["spec"]["forProvider"]["webAclArnRef"] == {"name": ctx.names.regional("waf", r.name)}
        assert not any(p.name == name for p in after.pending)


# --- issue 11, finding 8: ACM certificates are regional ------------------------------------------------------------


def test_one_edge_certificate_for_every_region_is_refused_naming_the_field(make_cr, render_cr):
    """The old shape (one spec.edge.certificateArn for all regions) would make us-east-2's HTTPS listener fail."""
    with pytest.raises(SpecValidationError) as err:
        render_cr(with_edge_only(make_cr(2), CERT))
    assert err.value.field == "spec.edge.certificateArn"
    assert "us-east-2" in err.value.rule and "regional" in err.value.rule


def test_a_region_certificate_of_another_region_is_refused_naming_the_region_field(make_cr, render_cr):
    cr = make_cr(2)
    cr["spec"]["regions"][1]["certificateArn"] = CERT  # us-east-1's certificate on us-east-2
    with pytest.raises(SpecValidationError) as err:
        render_cr(cr)
    assert err.value.field == "spec.regions[1].certificateArn"


def test_edge_certificate_serves_its_region_and_region_overrides_the_others(make_cr, render_cr, context_for):
    cr = with_edge_only(make_cr(2), CERT)
    cr["spec"]["regions"][1]["certificateArn"] = CERT_USE2
    ctx = context_for(cr)
    found = listeners(render_cr(cr))
    for r in ctx.regions:
        assert found[ctx.names.regional("listener-https", r.name)]["certificateArn"] == CERTS[r.name]


# --- issue 11, finding 11: port 443 is open only where an HTTPS listener exists ------------------------------------


def _open_ports(result: Any, region: str) -> tuple[set[int], set[int]]:
    """(security group ingress ports from anywhere, public NACL ingress ports from anywhere) of one region."""
    def of(kind: str) -> list[dict[str, Any]]:
        return [m["spec"]["forProvider"] for m in result.resources
                if m["kind"] == kind and m["spec"]["forProvider"].get("region") == region]
    sg = {fp["fromPort"] for fp in of("SecurityGroupIngressRule") if fp.get("cidrIpv4") == "0.0.0.0/0"}
    nacl = {fp["fromPort"] for fp in of("NetworkACLRule") if fp["egress"] is False and fp["cidrBlock"] == "0.0.0.0/0"
            and fp["protocol"] == "tcp" and fp["fromPort"] == fp["toPort"]}
    return sg, nacl


def test_port_443_is_opened_only_with_an_https_listener(make_cr, render_cr):
    cr = without_certificates(make_cr(2, environment="staging"))
    cr["spec"]["regions"][0]["certificateArn"] = CERT  # HTTPS in us-east-1 only
    result = render_cr(cr)
    assert _open_ports(result, "us-east-1") == ({80, 443}, {80, 443})
    assert _open_ports(result, "us-east-2") == ({80}, {80})


def test_switching_https_on_keeps_the_other_nacl_rules_names(make_cr, render_cr):
    """The 443 NACL rule's number stays reserved: enabling HTTPS adds one MR and renames none."""
    plain = {m["metadata"]["name"] for m in render_cr(without_certificates(make_cr(2, environment="staging"))).resources
             if m["kind"] == "NetworkACLRule"}
    https = {m["metadata"]["name"] for m in render_cr(make_cr(2)).resources
             if m["kind"] == "NetworkACLRule"}
    assert plain < https and len(https - plain) == 2  # one per region
