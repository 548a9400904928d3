"""The payments builder with the REAL Lambda package (artifact.load_artifact()): the ledger global table, the
content-addressed code object, the function, queues, least-privilege role, SSM configuration and the
active/standby event source mappings."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from payments import build as payments_build
from payments import ledger as payments_ledger
from payments.config import Settings
from regional_operator.artifact import LambdaArtifact, load_artifact
from regional_operator.defaults import RegionDefaults
from regional_operator.render import RenderResult, names, payments, render
from regional_operator.render.context import EXTERNAL_NAME, Region, RenderContext
from regional_operator.render.observed import Observed

from tests.crdschema import validate_mr
from tests.unit.render.conftest import ACCOUNT_ID, CrFactory

KIND_GROUPS = {"Object": "s3", "Function": "lambda", "EventSourceMapping": "lambda", "Queue": "sqs",
               "QueuePolicy": "sqs", "Parameter": "ssm", "Group": "cloudwatchlogs", "Role": "iam",
               "RolePolicy": "iam"}


@pytest.fixture(scope="module")
def artifact() -> LambdaArtifact:
    return load_artifact()


Renderer = Callable[..., tuple[RenderResult, RenderContext]]


@pytest.fixture
def rendered(defaults: RegionDefaults, make_cr: CrFactory, observe_all: Callable[[dict[str, Any]], Observed],
             context_for: Callable[[dict[str, Any]], RenderContext], artifact: LambdaArtifact) -> Renderer:
    """rendered(regions=2, artifact=..., **spec) -> (fully observed render, context for expected names)."""

    def factory(regions: int = 2, art: LambdaArtifact | None = None, **spec: Any) -> tuple[RenderResult, RenderContext]:
        cr = make_cr(regions, **spec)
        result = render(cr, defaults, observe_all(cr), art or artifact)
        assert result.pending == ()
        return result, context_for(cr)

    return factory


def one(result: RenderResult, kind: str, name: str) -> dict[str, Any]:
    found = [m for m in result.resources if m["kind"] == kind and m["metadata"]["name"] == name
             and (kind not in KIND_GROUPS or m["apiVersion"].startswith(f"{KIND_GROUPS[kind]}."))]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def fp(mr: dict[str, Any]) -> dict[str, Any]:
    return dict(mr["spec"]["forProvider"])


def of_region(result: RenderResult, kind: str, region: Region) -> list[dict[str, Any]]:
    return [m for m in result.resources if m["kind"] == kind and m["spec"]["forProvider"].get("region") == region.name]


# --- ledger -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("regions", [2, 3])
def test_ledger_is_a_global_table_keyed_like_the_handler(rendered: Renderer, regions: int) -> None:
    result, ctx = rendered(regions)
    table = one(result, "Table", names.ledger_table(ctx))
    spec = fp(table)
    assert spec["region"] == ctx.primary.name
    assert table["metadata"]["annotations"][EXTERNAL_NAME] == names.ledger_table(ctx)
    assert sorted(r["regionName"] for r in spec["replica"]) == sorted(r.name for r in ctx.secondaries)
    # the key schema the Lambda writes (lambda/payments/ledger.py), string-typed
    assert spec["hashKey"] == payments_ledger.PARTITION_KEY
    assert spec["rangeKey"] == payments_ledger.SORT_KEY
    assert sorted(spec["attribute"], key=lambda a: a["name"]) == sorted(
        [{"name": payments_ledger.PARTITION_KEY, "type": "S"}, {"name": payments_ledger.SORT_KEY, "type": "S"}],
        key=lambda a: a["name"])
    assert spec["streamEnabled"] is True and spec["streamViewType"] == "NEW_AND_OLD_IMAGES"
    assert spec["pointInTimeRecovery"] == {"enabled": True}
    assert all(r["pointInTimeRecovery"] is True for r in spec["replica"])


# --- code: artifacts bucket, object, function -----------------------------------------------------------------------


def test_each_region_has_a_hardened_artifacts_bucket(rendered: Renderer) -> None:
    result, ctx = rendered(3)
    for r in ctx.regions:
        bucket = names.artifacts_bucket(ctx, r)
        assert fp(one(result, "Bucket", bucket))["region"] == r.name
        (rule,) = fp(one(result, "BucketServerSideEncryptionConfiguration", bucket))["rule"]
        assert rule["applyServerSideEncryptionByDefault"] == {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyIdRef": {"name": names.kms_key(ctx, r)}}
        pab = fp(one(result, "BucketPublicAccessBlock", bucket))
        assert all(pab[f] is True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                            "restrictPublicBuckets"))
        policy = json.loads(fp(one(result, "BucketPolicy", bucket))["policy"])
        assert {s["Sid"] for s in policy["Statement"]} == {
            "DenyInsecureTransport", "DenyNonKmsEncryption", "DenyMissingEncryptionHeader", "DenyOtherKmsKey",
            "KeepAclsDisabled"}
        assert all(s["Effect"] == "Deny" for s in policy["Statement"])


def test_code_object_is_the_package_addressed_by_its_sha256(rendered: Renderer, artifact: LambdaArtifact) -> None:
    result, ctx = rendered(2)
    objects = [m for m in result.resources if m["kind"] == "Object"]
    assert sorted(fp(m)["region"] for m in objects) == sorted(r.name for r in ctx.regions)
    for obj in objects:
        spec = fp(obj)
        r = ctx.region(spec["region"])
        assert spec["bucketRef"] == {"name": names.artifacts_bucket(ctx, r)}
        assert artifact.sha256 in spec["key"]
        content = base64.b64decode(spec["contentBase64"], validate=True)
        assert hashlib.sha256(content).hexdigest() == artifact.sha256
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            assert archive.testzip() is None
            assert "payments/handler.py" in archive.namelist()
            assert "def lambda_handler(" in archive.read("payments/handler.py").decode()
        assert spec["serverSideEncryption"] == "aws:kms"
        # the key ARN (S3 reports the object's key as an ARN; kmsKeyIdRef would copy the key id, finding 5)
        assert spec["kmsKeyId"] == f"arn:aws:kms:{r.name}:{ACCOUNT_ID}:key/{names.kms_key(ctx, r)}"
        assert "kmsKeyIdRef" not in spec
        assert spec["contentType"] == "application/zip"


def test_function_runs_that_object(rendered: Renderer, artifact: LambdaArtifact) -> None:
    result, ctx = rendered(2)
    for r in ctx.regions:
        function = one(result, "Function", names.lambda_function(ctx, r))
        spec = fp(function)
        (obj,) = of_region(result, "Object", r)
        assert spec["s3BucketRef"] == fp(obj)["bucketRef"]
        assert spec["s3Key"] == fp(obj)["key"]
        assert spec["sourceCodeHash"] == base64.b64encode(hashlib.sha256(
            base64.b64decode(fp(obj)["contentBase64"])).digest()).decode()
        assert spec["sourceCodeHash"] == payments_build.source_code_hash(artifact.sha256)
        assert spec["handler"] == payments_build.HANDLER
        assert spec["region"] == r.name
        assert function["metadata"]["annotations"][EXTERNAL_NAME] == names.lambda_function(ctx, r)


def test_function_runtime_is_the_one_the_package_is_built_for(rendered: Renderer) -> None:
    result, ctx = rendered(2)
    for r in ctx.regions:
        assert fp(one(result, "Function", names.lambda_function(ctx, r)))["runtime"] == payments_build.RUNTIME


def test_function_environment_is_what_the_handler_reads(rendered: Renderer) -> None:
    """The handler's own settings parser accepts the rendered environment (plus AWS_REGION, set by Lambda)."""
    result, ctx = rendered(2)
    for r in ctx.regions:
        env = fp(one(result, "Function", names.lambda_function(ctx, r)))["environment"]["variables"]
        settings = Settings.from_env({**env, "AWS_REGION": r.name})
        assert settings.region == r.name
        assert settings.ledger_table == names.ledger_table(ctx)
        assert settings.config_path == names.ssm_path(ctx, r)
        # the deployment's token keeps two deployments with one suffix apart (issue 13)
        assert settings.config_path == f"/payments/{ctx.spec.environment_suffix}-{ctx.names.token}/{r.name}/"
        assert settings.dlq_url == f"https://sqs.{r.name}.amazonaws.com/{ACCOUNT_ID}/{names.dead_letter_queue(ctx, r)}"


def _changed_artifact(tmp_path: Path) -> LambdaArtifact:
    """The real package with one edited source file: what a handler change produces."""
    source = tmp_path / "payments"
    shutil.copytree(Path(payments_build.PACKAGE_DIR), source)
    handler = source / "handler.py"
    handler.write_text(handler.read_text(encoding="utf-8") + "\n# a code change\n", encoding="utf-8")
    content, digest = payments_build.build_package(source)
    return LambdaArtifact(sha256=digest, content_base64=base64.b64encode(content).decode())


def _by_key(result: RenderResult) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(m["apiVersion"], m["kind"], m["metadata"]["name"]): m for m in result.resources}


def test_a_code_change_changes_only_the_object_and_the_function(rendered: Renderer, artifact: LambdaArtifact,
                                                                tmp_path: Path) -> None:
    changed = _changed_artifact(tmp_path)
    assert changed.sha256 != artifact.sha256
    before, _ = rendered(2)
    after, _ = rendered(2, art=changed)
    old, new = _by_key(before), _by_key(after)
    differing = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    assert differing
    assert {k[1] for k in differing} == {"Object", "Function"}
    for k in differing & old.keys() & new.keys():  # changed in place: only the code fields
        a, b = fp(old[k]), fp(new[k])
        assert {f for f in a.keys() | b.keys() if a.get(f) != b.get(f)} <= {
            "key", "contentBase64", "s3Key", "sourceCodeHash"}
    for obj in (m for m in after.resources if m["kind"] == "Object"):
        assert changed.sha256 in fp(obj)["key"]


def test_an_unchanged_package_renders_identically(rendered: Renderer, artifact: LambdaArtifact) -> None:
    content, digest = payments_build.build_package()  # a fresh build, not the cached one
    rebuilt = LambdaArtifact(sha256=digest, content_base64=base64.b64encode(content).decode())
    assert rebuilt == artifact
    first, _ = rendered(2)
    second, _ = rendered(2, art=rebuilt)
    assert json.dumps(first.resources, sort_keys=True) == json.dumps(second.resources, sort_keys=True)


def test_a_code_change_never_updates_a_force_new_field_in_place(rendered: Renderer, tmp_path: Path) -> None:
    before, _ = rendered(2)
    after, _ = rendered(2, art=_changed_artifact(tmp_path))
    old, new = _by_key(before), _by_key(after)
    for k in old.keys() & new.keys():
        if k[1] == "Object":
            for field in ("key", "bucketRef"):
                assert fp(old[k])[field] == fp(new[k])[field], f"{k[2]}: {field} changes in place"


# --- queues, policy, configuration, event source mapping ------------------------------------------------------------


def test_queue_has_a_dead_letter_queue_and_both_are_tls_only(rendered: Renderer) -> None:
    result, ctx = rendered(2)
    for r in ctx.regions:
        queue, dlq = one(result, "Queue", names.queue(ctx, r)), one(result, "Queue", names.dead_letter_queue(ctx, r))
        dlq_arn = f"arn:aws:sqs:{r.name}:{ACCOUNT_ID}:{names.dead_letter_queue(ctx, r)}"
        redrive = json.loads(fp(queue)["redrivePolicy"])
        assert redrive == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": payments.MAX_RECEIVE_COUNT}
        assert "redrivePolicy" not in fp(dlq)
        assert fp(dlq)["messageRetentionSeconds"] > fp(queue)["messageRetentionSeconds"]  # DLQ outlives the source
        assert fp(queue)["visibilityTimeoutSeconds"] >= 6 * r.settings.lambda_timeout_seconds
        for q in (queue, dlq):
            assert fp(q)["name"] == q["metadata"]["name"]
            policy_mr = one(result, "QueuePolicy", q["metadata"]["name"])
            assert fp(policy_mr)["queueUrlRef"] == {"name": q["metadata"]["name"]}
            (statement,) = json.loads(fp(policy_mr)["policy"])["Statement"]
            assert statement == {
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                "Resource": f"arn:aws:sqs:{r.name}:{ACCOUNT_ID}:{q['metadata']['name']}",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }


@pytest.mark.parametrize(("active", "expected"), [(None, "us-east-1"), ("us-east-2", "us-east-2")])
def test_event_source_mapping_is_enabled_only_in_the_active_region(rendered: Renderer, active: str | None,
                                                                   expected: str) -> None:
    spec = {"payments": {"activeRegion": active}} if active else {}
    result, ctx = rendered(3, **spec)
    mappings = [m for m in result.resources if m["kind"] == "EventSourceMapping"]
    assert sorted(fp(m)["region"] for m in mappings) == sorted(r.name for r in ctx.regions)
    assert [fp(m)["region"] for m in mappings if fp(m)["enabled"] is True] == [expected]
    for m in mappings:
        r = ctx.region(fp(m)["region"])
        assert fp(m)["eventSourceArn"] == f"arn:aws:sqs:{r.name}:{ACCOUNT_ID}:{names.queue(ctx, r)}"
        assert fp(m)["functionNameRef"] == {"name": names.lambda_function(ctx, r)}
        assert fp(m)["functionResponseTypes"] == ["ReportBatchItemFailures"]
    # every region's configuration names the same active region (the handler's own guard reads it)
    active_params = [m for m in result.resources if m["kind"] == "Parameter"
                     and m["metadata"]["annotations"][EXTERNAL_NAME].endswith("/activeRegion")]
    assert len(active_params) == len(ctx.regions)
    assert {fp(m)["insecureValue"] for m in active_params} == {expected}


def test_ssm_parameters_live_under_the_region_path(rendered: Renderer) -> None:
    result, ctx = rendered(2)
    for r in ctx.regions:
        path = names.ssm_path(ctx, r)
        params = {m["metadata"]["annotations"][EXTERNAL_NAME]: fp(m) for m in of_region(result, "Parameter", r)}
        assert set(params) == {f"{path}{k}" for k in ("apiEndpoint", "activeRegion", "maxReceiveCount")}
        assert all(p["type"] == "String" for p in params.values())  # nothing secret in Parameter Store values
        assert params[f"{path}apiEndpoint"]["insecureValue"] == r.settings.payments_api_endpoint
        # the handler dead-letters on the same receive count SQS uses (lambda/payments/config.py)
        assert int(params[f"{path}maxReceiveCount"]["insecureValue"]) == payments.MAX_RECEIVE_COUNT


def _as_set(value: Any) -> set[str]:
    return set(value) if isinstance(value, list) else {value}


def test_lambda_role_policy_grants_exactly_its_own_resources(rendered: Renderer) -> None:
    result, ctx = rendered(3)
    for r in ctx.regions:
        role = ctx.names.named("lambda-role", r.name)
        policy_mr = one(result, "RolePolicy", role)
        assert fp(policy_mr)["roleRef"] == {"name": role}
        grants: dict[str, set[str]] = {}
        for s in json.loads(fp(policy_mr)["policy"])["Statement"]:
            assert s["Effect"] == "Allow"
            for resource in _as_set(s["Resource"]):
                grants.setdefault(resource, set()).update(_as_set(s["Action"]))
        region, function = r.name, names.lambda_function(ctx, r)
        ssm = {"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}
        assert grants == {
            f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{names.queue(ctx, r)}": {
                "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
            f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{names.dead_letter_queue(ctx, r)}": {"sqs:SendMessage"},
            f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{names.ledger_table(ctx)}": {
                "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
            f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{names.ssm_path(ctx, r).rstrip('/')}": ssm,
            f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter{names.ssm_path(ctx, r)}*": ssm,
            # the region key's ARN as observed (conftest's plausible_status: arn:aws:kms:<region>:<acct>:key/<name>)
            f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{names.kms_key(ctx, r)}": {"kms:Decrypt", "kms:GenerateDataKey"},
            f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:/aws/lambda/{function}:*": {
                "logs:CreateLogStream", "logs:PutLogEvents"},
            # ENIs for the VPC (describe only: the rest is scoped), and X-Ray for active tracing (the default):
            # neither has resource-level permissions
            "*": {"ec2:DescribeNetworkInterfaces"} | set(payments.XRAY_ACTIONS),
            **{f"arn:aws:ec2:{region}:{ACCOUNT_ID}:{kind}/*": set(payments.VPC_ENI_MANAGE_ACTIONS)
               for kind in ("network-interface", "security-group", "subnet")},
        }
        # the ledger calls the handler makes (TransactWriteItems Put + Update, GetItem) are covered
        assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"} <= grants[
            f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{names.ledger_table(ctx)}"]
        # and that log group is the function's, encrypted with the region key
        (group,) = [m for m in of_region(result, "Group", r)
                    if m["metadata"]["annotations"][EXTERNAL_NAME] == f"/aws/lambda/{function}"]
        assert fp(group)["kmsKeyIdRef"] == {"name": names.kms_key(ctx, r)}
        role_mr = one(result, "Role", role)
        trust = json.loads(fp(role_mr)["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
        assert fp(one(result, "Function", function))["roleRef"] == {"name": role}


@pytest.mark.parametrize("regions", [2, 3])
def test_every_mr_validates_against_the_provider_crds(rendered: Renderer, regions: int) -> None:
    result, _ = rendered(regions)
    assert {"Object", "Function", "EventSourceMapping"} <= {m["kind"] for m in result.resources}
    errors = [e for m in result.resources for e in validate_mr(m)]
    assert errors == []


# --- issue 11: what AWS and the provider would refuse --------------------------------------------------------------


def test_function_key_is_the_key_arn_not_a_ref(rendered: Renderer) -> None:
    """Function.kmsKeyArnRef copies the Key's external name (the key id); CreateFunction's KMSKeyArn takes only an
    ARN (finding 2)."""
    result, ctx = rendered(2)
    for r in ctx.regions:
        spec = fp(one(result, "Function", names.lambda_function(ctx, r)))
        assert spec["kmsKeyArn"] == f"arn:aws:kms:{r.name}:{ACCOUNT_ID}:key/{names.kms_key(ctx, r)}"
        assert "kmsKeyArnRef" not in spec


def test_function_and_object_wait_for_the_key_arn(defaults: RegionDefaults, make_cr: CrFactory,
                                                  artifact: LambdaArtifact) -> None:
    cr = make_cr(2)
    result = render(cr, defaults, Observed(), artifact)
    assert not [m for m in result.resources if m["kind"] in ("Function", "Object")]
    assert {p.kind for p in result.pending if "Key/" in p.waits_for} >= {"Function"}


@pytest.mark.parametrize(("tracing", "xray"), [(None, True), ("Active", True), ("PassThrough", False)])
def test_active_tracing_comes_with_the_xray_permissions_it_needs(rendered: Renderer, tracing: str | None,
                                                                 xray: bool) -> None:
    """Lambda refuses active tracing unless the execution role may write traces (finding 3); tracing is a setting
    whose default stays Active, and PassThrough grants nothing."""
    result, ctx = rendered(2, **({"payments": {"tracing": tracing}} if tracing else {}))
    for r in ctx.regions:
        assert fp(one(result, "Function", names.lambda_function(ctx, r)))["tracingConfig"] == {
            "mode": tracing or "Active"}
        statements = json.loads(fp(one(result, "RolePolicy", ctx.names.named("lambda-role", r.name)))["policy"])[
            "Statement"]
        traces = [s for s in statements if set(_as_set(s["Action"])) & set(payments.XRAY_ACTIONS)]
        if xray:
            assert traces == [{"Sid": "WriteTraces", "Effect": "Allow", "Action": payments.XRAY_ACTIONS,
                               "Resource": "*"}]
            assert set(payments.XRAY_ACTIONS) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
        else:
            assert traces == []


def test_queues_leave_their_external_name_to_the_provider(rendered: Renderer) -> None:
    """A queue's external name is its URL, which AWS assigns; the operator must not pin it (finding 4)."""
    result, _ = rendered(2)
    queues = [m for m in result.resources if m["kind"] == "Queue"]
    assert queues
    for q in queues:
        assert EXTERNAL_NAME not in (q["metadata"].get("annotations") or {})


def test_main_queue_waits_for_the_dlq_and_the_mapping_for_the_queue(defaults: RegionDefaults, make_cr: CrFactory,
                                                                    artifact: LambdaArtifact,
                                                                    context_for: Callable[[dict[str, Any]],
                                                                                          RenderContext]) -> None:
    """SQS refuses a redrive policy naming a queue that does not exist yet, and CreateEventSourceMapping a queue
    that does not exist: each dependent waits for what it needs to be Ready (finding 10)."""
    cr = make_cr(2)
    ctx = context_for(cr)
    first = render(cr, defaults, Observed(), artifact)
    queue_names = {m["metadata"]["name"] for m in first.resources if m["kind"] == "Queue"}
    assert queue_names == {names.dead_letter_queue(ctx, r) for r in ctx.regions}
    for r in ctx.regions:
        assert any(p.kind == "Queue" and p.name == names.queue(ctx, r)
                   and p.waits_for == f"Queue/{names.dead_letter_queue(ctx, r)} Ready" for p in first.pending)
    assert not [m for m in first.resources if m["kind"] == "EventSourceMapping"]
    dlqs_ready = Observed.from_objects(
        {"kind": "Queue", "metadata": {"name": names.dead_letter_queue(ctx, r)},
         "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "True"}]}}
        for r in ctx.regions)
    second = render(cr, defaults, dlqs_ready, artifact)
    assert {m["metadata"]["name"] for m in second.resources if m["kind"] == "Queue"} == queue_names | {
        names.queue(ctx, r) for r in ctx.regions}
    not_ready = Observed.from_objects(
        {"kind": "Queue", "metadata": {"name": names.dead_letter_queue(ctx, r)},
         "status": {"conditions": [{"type": "Ready", "status": "False"}]}} for r in ctx.regions)
    assert not [m for m in render(cr, defaults, not_ready, artifact).resources
                if m["kind"] == "Queue" and m["metadata"]["name"] not in queue_names]
def test_lambda_key_use_is_narrowed_to_its_services_and_own_data(rendered: Renderer) -> None:
    """Every KMS grant of the Lambda role names the service it goes through (kms:ViaService, in the key's region)
    and the encryption context of the function's own queues, ledger table or environment (issue 13)."""
    result, ctx = rendered(2)
    for r in ctx.regions:
        statements = json.loads(fp(one(result, "RolePolicy", ctx.names.named("lambda-role", r.name)))["policy"])
        kms = [s for s in statements["Statement"] if any(a.startswith("kms:") for a in _as_set(s["Action"]))]
        contexts = {}
        for s in kms:
            equals = s["Condition"]["StringEquals"]
            service = equals.pop("kms:ViaService")
            assert service.endswith(f".{r.name}.amazonaws.com")
            ((key, value),) = equals.items()
            contexts[service.split(".")[0]] = (key, value)
        queue_arn = f"arn:aws:sqs:{r.name}:{ACCOUNT_ID}"
        assert contexts == {
            "sqs": ("kms:EncryptionContext:aws:sqs:arn", sorted([f"{queue_arn}:{names.queue(ctx, r)}",
                                                                 f"{queue_arn}:{names.dead_letter_queue(ctx, r)}"])),
            "dynamodb": ("kms:EncryptionContext:aws:dynamodb:tableName", names.ledger_table(ctx)),
            "lambda": ("kms:EncryptionContext:aws:lambda:FunctionArn",
                       f"arn:aws:lambda:{r.name}:{ACCOUNT_ID}:function:{names.lambda_function(ctx, r)}"),
        }
