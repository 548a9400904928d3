"""The real provider in the loop: the two-region example through the real operator and provider-aws v2.5.0
(built from source) against moto on loopback. What only the provider can tell us: references resolved as it
resolves them, the external names it writes, Terraform's schema and the AWS API (as moto implements it).

One estate per module, reconciled once (with a provider restart in the middle of it); the tests then read it,
change it, and delete it - in file order, deletion last."""

from __future__ import annotations

import copy
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from regional_operator.naming import Namer

from devtools.controlplane import LocalControlPlane
from tests.provider import checks, outcomes
from tests.provider.emulator import Moto
from tests.provider.estate import DEPLOYMENT_TAG, EXTERNAL_NAME, Estate, example, normalized, outcome

# The estate fixture (a full reconcile, one provider restart) runs inside the first test's timeout.
pytestmark = [pytest.mark.cluster, pytest.mark.provider, pytest.mark.timeout(2700)]

CONVERGE_TIMEOUT = float(os.environ.get("REGIONAL_OPERATOR_PROVIDER_CONVERGE_TIMEOUT", "900"))
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="module")
def estate(provider_plane: LocalControlPlane, moto: Moto, provider_exe: str) -> Iterator[Estate]:
    ns = "payments"
    provider_plane.kubectl("create", "namespace", ns)
    e = Estate(provider_plane, moto, Path(provider_exe), ns)
    try:
        e.configure_provider()
        began = time.monotonic()
        e.start_provider()
        FIGURES["provider start to healthy (s)"] = f"{time.monotonic() - began:.1f}"
        e.start_operator()
        e.apply(example(ns))
        began = time.monotonic()
        # Restart the provider mid-reconcile: once a third of the MRs are created in moto, others not yet.
        e.wait_for("a third of the MRs created by the provider", lambda: _midway(e), timeout=CONVERGE_TIMEOUT)
        e.events.append(f"provider restarted at {time.monotonic() - began:.0f}s: {_progress(e)}")
        e.stop_provider()
        e.start_provider()
        e.wait_converged(CONVERGE_TIMEOUT)
        FIGURES["apply to converged, one provider restart included (s)"] = f"{time.monotonic() - began:.0f}"
        FIGURES["MRs"] = str(len(e.converged))
        yield e
    finally:
        e.stop()


def _progress(e: Estate) -> str:
    snap = e.snapshot()
    created = sum(1 for v in snap.values() if v[2])
    return f"{created}/{len(snap)} MRs created in moto, {dict(Counter(v[0] for v in snap.values()))}"


def _midway(e: Estate) -> bool:
    """A third of the MRs created by the provider, and at least a tenth not yet."""
    snap = e.snapshot()
    created = sum(1 for v in snap.values() if v[2])
    return len(snap) > 100 and len(snap) // 3 <= created <= len(snap) * 9 // 10


def _key(mr: dict[str, Any]) -> str:
    return f"{mr['kind']}/{mr['metadata']['name']}"


def test_each_kind_reaches_the_outcome_the_docs_table_records(estate: Estate) -> None:
    mrs = estate.converged
    expected = outcomes.offline(example(estate.ns))
    table = outcomes.observed(mrs, expected)
    msgs = outcomes.messages(mrs)
    live = {(m["kind"], m["metadata"]["name"]) for m in mrs}
    for key, doc in expected.docs.items():
        if key not in live:  # the API server's own words, by a server-side dry run of the same apply
            refused = estate.cp.kubectl("apply", "--server-side", "--dry-run=server",
                                        "--field-manager=regional-operator", "-f", "-", input=json.dumps(doc),
                                        check=False)
            assert refused.returncode != 0, f"{key} is admitted now but was not created"
            msgs.setdefault(expected.rendered[key], []).append(normalized(refused.stderr))
    msgs = {k: sorted(set(v)) for k, v in msgs.items()}
    waiting = outcomes.never_rendered(mrs, expected)
    doc = outcomes.render_doc(table, msgs, waiting, {**FIGURES, "events": "; ".join(estate.events)})
    if os.environ.get("UPDATE_GOLDEN"):
        outcomes.DOC.write_text(doc)
    got = {k: dict(v) for k, v in table.items()}
    want = outcomes.expected_outcomes(set(got), {k: sum(v.values()) for k, v in table.items()})
    assert got == want, f"outcomes differ from tests/provider/outcomes.py GAPS:\n{doc}"
    unknown = set(outcomes.GAPS) - set(got)
    assert not unknown, f"GAPS names kinds the example does not render: {unknown}"
    assert waiting == outcomes.WAITING, f"held-back MRs changed:\n{doc}"
    assert outcomes.DOC.is_file(), f"{outcomes.DOC} missing: run the tier once with UPDATE_GOLDEN=1\n{doc}"
    assert outcomes.table_part(outcomes.DOC.read_text()) == outcomes.table_part(doc), (
        "docs/real-provider-outcomes.md is stale; rerun with UPDATE_GOLDEN=1")


def test_references_resolve_as_the_provider_resolves_them(estate: Estate) -> None:
    mrs = estate.converged
    found = checks.resolutions(mrs)
    resolved = [r for r in found if r.got is not None]
    assert len(resolved) >= 100, f"only {len(resolved)} references resolved: the check would prove little"
    wrong = [r for r in resolved if r.got != r.want]
    assert not wrong, "\n".join(f"{r.mr} {r.field}: provider wrote {r.got!r}, the rule says {r.want!r}"
                                for r in wrong)
    # A reference left unresolved is only acceptable when its target never got what the reference copies.
    unresolved = [r for r in found if r.got is None and r.want not in (None, [None])]
    assert not unresolved, f"targets ready but references unresolved: {unresolved}"


def test_external_names_are_what_the_provider_writes(estate: Estate) -> None:
    configs = checks.external_name_configs()
    mrs = estate.converged
    checked = 0
    for mr in mrs:
        if outcome(mr) not in ("Ready", "Synced only"):
            continue
        group = mr["apiVersion"].split("/")[0]
        ext = mr["metadata"].get("annotations", {}).get(EXTERNAL_NAME)
        assert ext, f"{_key(mr)}: reconciled but no external name"
        at = (mr.get("status") or {}).get("atProvider") or {}
        config = configs[(group, mr["kind"])]
        if config == "config.IdentifierFromProvider":
            # The provider's ID, written after Create; we never set it.
            assert ext == at.get("id"), f"{_key(mr)}: external name {ext!r}, atProvider.id {at.get('id')!r}"
            checked += 1
        elif config in ("config.NameAsIdentifier",) or config.startswith("config.ParameterAsIdentifier"):
            # The name the resource gets in AWS: the one we render (annotation), else metadata.name.
            assert ext in (mr["metadata"]["name"], _rendered_external_name(estate, mr)), (
                f"{_key(mr)}: external name {ext!r}")
            checked += 1
    assert checked >= 100, f"only {checked} external names checked"


def _rendered_external_name(estate: Estate, mr: dict[str, Any]) -> str | None:
    """The external name our renderer sets for this MR, if any (from an offline render of the same CR)."""
    doc = outcomes.offline(example(estate.ns)).docs.get((mr["kind"], mr["metadata"]["name"]))
    return (doc or {}).get("metadata", {}).get("annotations", {}).get(EXTERNAL_NAME)


def test_operator_makes_no_writes_once_converged(estate: Estate) -> None:
    """Over two more reconcile passes (resyncs, or retries while an MR is refused), nothing the operator owns
    changes: no MR field it manages is rewritten (server-side apply leaves managedFields alone when an apply
    changes nothing), nothing is deleted, and the CR is not rewritten. Nothing fights the provider's fields."""
    applies = estate.operator_counter("regional_operator_mr_applies_total")
    deletes = estate.operator_counter("regional_operator_mr_deletes_total")
    passes = estate.operator_counter("regional_operator_reconciles_total")
    cr_version = (estate.cr() or {})["metadata"]["resourceVersion"]
    ours = {_key(m): _operator_field_times(m) for m in estate.mrs()}
    estate.wait_for("two more reconcile passes",
                    lambda: estate.operator_counter("regional_operator_reconciles_total") - passes >= 2, timeout=150)
    assert estate.operator_counter("regional_operator_mr_applies_total") == applies
    assert estate.operator_counter("regional_operator_mr_deletes_total") == deletes
    assert (estate.cr() or {})["metadata"]["resourceVersion"] == cr_version, "the operator rewrote the CR"
    now = {_key(m): _operator_field_times(m) for m in estate.mrs()}
    changed = sorted(k for k in ours if now.get(k) != ours[k])
    assert not changed, f"the operator rewrote {len(changed)} MRs after convergence: {changed[:10]}"


def _operator_field_times(mr: dict[str, Any]) -> list[str]:
    return sorted(f"{f.get('operation')}@{f.get('time')}" for f in mr["metadata"].get("managedFields", [])
                  if f.get("manager") == "regional-operator")


def test_provider_restart_mid_reconcile_duplicated_nothing(estate: Estate) -> None:
    assert any(e.startswith("provider restarted") for e in estate.events)
    held = estate.moto.tagged(DEPLOYMENT_TAG, estate.tag_value)
    FIGURES["moto resources tagged with the deployment"] = str(len(held))
    assert len(held) >= 50, f"moto holds only {len(held)} of our resources: the duplicate check would prove little"
    names = Counter((_arn_type(arn), tags.get("Name")) for arn, tags in held.items())
    dupes = {k: n for k, n in names.items() if n > 1}
    assert not dupes, f"duplicated in moto after the restart: {dupes}"


def _arn_type(arn: str) -> str:
    parts = arn.split(":", 5)
    resource = parts[5]
    for sep in ("/", ":"):
        if sep in resource:
            resource = resource.split(sep, 1)[0]
            break
    return f"{parts[2]}:{parts[3]}:{resource}"


def test_threshold_change_reaches_the_alarm_in_moto(estate: Estate) -> None:
    cr = example(estate.ns)
    changed = copy.deepcopy(cr)
    region = next(r for r in changed["spec"]["regions"] if r["name"] == "us-east-2")
    region.setdefault("alarmThresholds", {})["rdsCpuPercent"] = 42
    estate.apply(changed)
    cloudwatch = estate.moto.client("cloudwatch", "us-east-2")
    # the name as the renderer makes it (monitoring.alarm_name): it carries the deployment's token
    alarm = Namer(cr["spec"]["environmentSuffix"], cr["metadata"]["namespace"], cr["metadata"]["name"]).regional(
        "alarm-rds-cpu", "us-east-2")

    def threshold() -> float | None:
        alarms = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
        return alarms[0]["Threshold"] if alarms else None

    assert threshold() == 80.0, "the alarm is not in moto at the old threshold"
    estate.wait_for("moto's alarm at threshold 42", lambda: threshold() == 42.0, timeout=120)


def test_deletion_goes_tier_by_tier_and_leaves_nothing_in_moto(estate: Estate) -> None:
    before = estate.moto.tagged(DEPLOYMENT_TAG, estate.tag_value)
    assert before, "moto holds none of our resources before deletion: the check would prove nothing"
    tiers = {_key(m): int(m["metadata"]["labels"]["platform.regional.io/deletion-tier"]) for m in estate.mrs()}
    estate.cp.kubectl("delete", "regionaldeployments.platform.regional.io", estate.name, "-n", estate.ns,
                      "--wait=false")
    asked: dict[str, int] = {}  # MR -> poll at which it first carried a deletionTimestamp
    gone: dict[str, int] = {}  # MR -> poll at which it was first missing
    poll = 0
    began = time.monotonic()
    while estate.cr() is not None:
        assert time.monotonic() - began < CONVERGE_TIMEOUT, (
            f"deletion not done after {CONVERGE_TIMEOUT:.0f}s: {(estate.cr() or {}).get('status')}\n{estate.logs()}")
        poll += 1
        live = {_key(m): m for m in estate.mrs()}
        for key, mr in live.items():
            if mr["metadata"].get("deletionTimestamp"):
                asked.setdefault(key, poll)
        for key in tiers:
            if key not in live:
                gone.setdefault(key, poll)
        time.sleep(0.5)
    FIGURES["deletion through the provider (s)"] = f"{time.monotonic() - began:.0f}"
    assert set(gone) == set(tiers), f"MRs left after the CR went: {set(tiers) - set(gone)}"
    # Tier t is asked to go only once every lower tier is gone (same poll at the earliest: sampling is coarse).
    for key, tier in tiers.items():
        if key not in asked:
            continue  # went between two polls
        early = [k for k, t in tiers.items() if t < tier and gone[k] > asked[key]]
        assert not early, f"{key} (tier {tier}) asked to go before lower tiers were gone: {early[:5]}"
    left = estate.moto.tagged(DEPLOYMENT_TAG, estate.tag_value)
    assert not left, f"moto still holds {len(left)} of our resources: {left[:20]}"
