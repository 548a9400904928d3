"""The sessions builder: the sessions and ledger DynamoDB global tables (one Table MR each, replicas inside)."""

from __future__ import annotations

import ast
from typing import Any

import pytest
from regional_operator.render import names, sessions

from tests.crdschema import REPO, validate_mr
from tests.unit.render.conftest import of_component, one


def _tables(render_cr: Any, cr: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    result = render_cr(cr)  # nothing observed: global tables need no provider-only values
    return of_component(result, "sessions"), [str(p) for p in result.pending]


@pytest.mark.parametrize("regions", [2, 3])
@pytest.mark.parametrize("lifecycle", ["Delete", "Retain"])
def test_two_tables_in_the_primary_region_that_validate(make_cr: Any, render_cr: Any, context_for: Any, regions: int,
                                                       lifecycle: str) -> None:
    cr = make_cr(regions, lifecycle=lifecycle)
    ctx = context_for(cr)
    mrs, pending = _tables(render_cr, cr)
    assert sorted(m["metadata"]["name"] for m in mrs) == sorted([names.sessions_table(ctx), names.ledger_table(ctx)])
    for mr in mrs:
        assert mr["kind"] == "Table"
        assert validate_mr(mr) == []
        assert mr["spec"]["forProvider"]["region"] == ctx.primary.name
        assert mr["metadata"]["annotations"]["crossplane.io/external-name"] == mr["metadata"]["name"]
    assert not [p for p in pending if p.startswith("Table/")]


@pytest.mark.parametrize("regions", [2, 3])
def test_replicas_in_every_secondary_with_their_own_key_and_pitr(make_cr: Any, render_cr: Any, context_for: Any,
                                                                 regions: int) -> None:
    cr = make_cr(regions)
    ctx = context_for(cr)
    mrs, _ = _tables(render_cr, cr)
    for table in mrs:
        replicas = table["spec"]["forProvider"]["replica"]
        assert [x["regionName"] for x in replicas] == [r.name for r in ctx.secondaries]
        assert ctx.primary.name not in {x["regionName"] for x in replicas}
        for replica, r in zip(replicas, ctx.secondaries, strict=True):
            assert replica["kmsKeyArnRef"] == {"name": names.kms_key(ctx, r)}
            assert replica["pointInTimeRecovery"] is True
            # the table's tags say Region=<primary>; propagated, they would mark every replica with it (finding 9)
            assert replica["propagateTags"] is False
            assert replica["deletionProtectionEnabled"] is False


def test_table_settings(two_region_cr: dict[str, Any], render_cr: Any, context_for: Any) -> None:
    ctx = context_for(two_region_cr)
    mrs, _ = _tables(render_cr, two_region_cr)
    for table in mrs:
        fp = table["spec"]["forProvider"]
        assert fp["billingMode"] == "PAY_PER_REQUEST"
        primary_key = {"name": names.kms_key(ctx, ctx.primary)}
        assert fp["serverSideEncryption"] == {"enabled": True, "kmsKeyArnRef": primary_key}
        assert fp["pointInTimeRecovery"] == {"enabled": True}
        assert fp["deletionProtectionEnabled"] is False
        assert fp["streamEnabled"] is True
        assert fp["streamViewType"] == "NEW_AND_OLD_IMAGES"
        assert "readCapacity" not in fp and "writeCapacity" not in fp

    fp = one(mrs, "Table", names.sessions_table(ctx))["spec"]["forProvider"]
    assert fp["hashKey"] == "sessionId"
    assert "rangeKey" not in fp
    assert fp["attribute"] == [{"name": "sessionId", "type": "S"}]
    assert fp["ttl"] == {"attributeName": "expiresAt", "enabled": True}

    fp = one(mrs, "Table", names.ledger_table(ctx))["spec"]["forProvider"]
    assert fp["hashKey"] == sessions.LEDGER_PARTITION_KEY == "paymentId"
    assert fp["rangeKey"] == sessions.LEDGER_SORT_KEY == "recordId"
    assert fp["attribute"] == [{"name": "paymentId", "type": "S"}, {"name": "recordId", "type": "S"}]
    assert "ttl" not in fp  # ledger entries never expire


def test_ledger_key_names_come_from_the_module_constants(two_region_cr: dict[str, Any], render_cr: Any,
                                                         context_for: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "LEDGER_PARTITION_KEY", "ledgerId")
    monkeypatch.setattr(sessions, "LEDGER_SORT_KEY", "sequence")
    ctx = context_for(two_region_cr)
    mrs, _ = _tables(render_cr, two_region_cr)
    fp = one(mrs, "Table", names.ledger_table(ctx))["spec"]["forProvider"]
    assert (fp["hashKey"], fp["rangeKey"]) == ("ledgerId", "sequence")
    assert {a["name"] for a in fp["attribute"]} == {"ledgerId", "sequence"}


def test_ledger_keys_match_the_lambda() -> None:
    """The Lambda writes items keyed by its own constants; a renamed key there must fail here, not in production."""
    tree = ast.parse((REPO / "lambda" / "payments" / "ledger.py").read_text(encoding="utf-8"))
    constants = {
        node.target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    assert (constants["PARTITION_KEY"], constants["SORT_KEY"]) == (sessions.LEDGER_PARTITION_KEY,
                                                                   sessions.LEDGER_SORT_KEY)


@pytest.mark.parametrize(("lifecycle", "expected"), [("Delete", ["*"]),
                                                     ("Retain", ["Observe", "Create", "Update", "LateInitialize"])])
def test_retain_never_deletes_the_tables(make_cr: Any, render_cr: Any, lifecycle: str, expected: list[str]) -> None:
    mrs, _ = _tables(render_cr, make_cr(2, lifecycle=lifecycle))
    assert all(m["spec"]["managementPolicies"] == expected for m in mrs)
