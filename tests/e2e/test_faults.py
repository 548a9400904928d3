"""Fault injection end-to-end: SIGKILLed operator, bounced API server + etcd, failing provider, stuck deletion.

The operator (kopf run) and the provider simulator run as subprocesses against the session's real API server
(tests/e2e/conftest.py). Every wait is bounded; a failure message carries what was wrong, the operator and
simulator logs and, for the randomized tests, the seed to replay it with (FAULT_SEED=<seed>).
"""

from __future__ import annotations

import copy
import os
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from regional_operator.artifact import LambdaArtifact, load_artifact
from regional_operator.defaults import DEFAULTS_ENV, load_defaults
from regional_operator.readiness import readiness
from regional_operator.reconcile.drift import is_subset
from regional_operator.render import render
from regional_operator.render.kinds import BY_API_KIND, KINDS
from regional_operator.render.observed import Observed

from devtools import processes
from tests.e2e.conftest import Env, load_example

pytestmark = pytest.mark.cluster

RD = "regionaldeployments.platform.regional.io"
LABEL_TIER = "platform.regional.io/deletion-tier"
LABEL_DEPLOYMENT = "platform.regional.io/deployment"
LABEL_REGION = "platform.regional.io/region"
FAIL = "sim.regional.io/fail"
STICK = "sim.regional.io/stick"
STANDBY = "us-east-2"
THRESHOLD = "rdsCpuPercent"  # renders exactly one MetricAlarm per region (alarm-rds-cpu)

MANAGED = "app.kubernetes.io/managed-by=regional-operator"
KINDS_HIGHEST_TIER_FIRST = ",".join(f"{k.plural}.{k.group}" for k in sorted(KINDS.values(), key=lambda k: -k.tier))

CONVERGE_TIMEOUT = 150.0  # a full create of the two-region example takes ~20 s here; headroom for a loaded box
DELETE_TIMEOUT = 150.0


# ------------------------------------------------------------------------------------------------ helpers


def _artifact() -> LambdaArtifact | None:
    try:
        return load_artifact()
    except ImportError:  # the operator renders without it too
        return None


def _key(mr: Mapping[str, Any]) -> tuple[str, str]:
    return str(mr["kind"]), str(mr["metadata"]["name"])


def _label(mr: Mapping[str, Any]) -> str:
    return f"{mr['kind']}/{mr['metadata']['name']}"


def _tier(mr: Mapping[str, Any]) -> int:
    return int(mr["metadata"]["labels"][LABEL_TIER])


def _cond(obj: Mapping[str, Any] | None, kind: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def _plural(mr: Mapping[str, Any]) -> str:
    """kubectl's fully qualified resource name for an MR (`Service` exists in two groups)."""
    kind = BY_API_KIND[(mr["apiVersion"], mr["kind"])]
    return f"{kind.plural}.{kind.group}"


def _annotate(env: Env, mr: Mapping[str, Any], annotation: str) -> None:
    env.cp.kubectl("annotate", "--overwrite", _plural(mr), mr["metadata"]["name"], "-n", env.ns, annotation)


def _delete_cr(env: Env, name: str) -> None:
    env.cp.kubectl("delete", RD, name, "-n", env.ns, "--wait=false")


def _alarm_thresholds(obj: Mapping[str, Any] | None) -> dict[str, float]:
    return dict((((obj or {}).get("status") or {}).get("alarmThresholds") or {}).get(STANDBY) or {})


def _with_threshold(cr: Mapping[str, Any], value: int) -> dict[str, Any]:
    changed = copy.deepcopy(dict(cr))
    region = next(r for r in changed["spec"]["regions"] if r["name"] == STANDBY)
    region.setdefault("alarmThresholds", {})[THRESHOLD] = value
    return changed


def _rds_cpu_alarm(mrs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [m for m in mrs if m["kind"] == "MetricAlarm" and m["metadata"]["labels"][LABEL_REGION] == STANDBY
             and "rds-cpu" in m["metadata"]["name"]]
    assert len(found) == 1, [m["metadata"]["name"] for m in found]
    return found[0]


def _processes(env: Env) -> str:
    """Whether the operator and simulator subprocesses still run (a dead one explains a missing convergence)."""
    out = []
    for proc in (env.operator, env.simulator):
        if proc is not None and proc.proc is not None:
            rc = proc.proc.poll()
            out.append(f"{proc.name} pid {proc.proc.pid} " + ("running" if rc is None else f"EXITED rc={rc}"))
    return "; ".join(out)


def convergence_problems(env: Env, cr: Mapping[str, Any], threshold: float | None = None) -> list[str]:
    """Everything that is not yet as it must be once the operator has converged on `cr` (empty = converged).

    Checked against the namespace as a whole: every MR with our managed-by label must be one the renderer
    wants for the live CR (same render the operator runs, fed with the live MRs), owned by the live CR's uid,
    exactly once; the CR's status must be Ready at its current generation and count exactly those MRs.
    """
    name = cr["metadata"]["name"]
    obj = env.get(name)
    if obj is None:
        return [f"RegionalDeployment {name} does not exist"]
    problems: list[str] = []
    meta, status = obj["metadata"], obj.get("status") or {}
    generation = meta["generation"]
    if status.get("observedGeneration") != generation:
        problems.append(f"observedGeneration {status.get('observedGeneration')} != generation {generation}")
    for kind, want in (("Ready", "True"), ("Stalled", "False"), ("Reconciling", "False")):
        cond = _cond(obj, kind)
        if cond.get("status") != want or cond.get("observedGeneration") != generation:
            problems.append(f"{kind}: want {want} at generation {generation}, have {cond or 'nothing'}")
    if meta.get("deletionTimestamp"):
        problems.append("CR is being deleted")

    mrs = env.mrs()  # every MR we manage in the namespace, whoever it claims to belong to
    dups = {k: n for k, n in Counter(_key(m) for m in mrs).items() if n > 1}
    if dups:
        problems.append(f"duplicate MRs (kind, name): {dups}")
    owner = [{"apiVersion": "platform.regional.io/v1alpha1", "kind": "RegionalDeployment", "name": name,
              "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}]
    orphans = [_label(m) for m in mrs if m["metadata"].get("ownerReferences") != owner
               or m["metadata"]["labels"].get(LABEL_DEPLOYMENT) != name]
    if orphans:
        problems.append(f"{len(orphans)} MRs not owned by {name} uid {meta['uid']}: {orphans[:5]}")
    deleting = [_label(m) for m in mrs if m["metadata"].get("deletionTimestamp")]
    if deleting:
        problems.append(f"MRs being deleted: {deleting[:5]}")

    result = render(obj, load_defaults(os.environ.get(DEFAULTS_ENV)), Observed.from_objects(mrs), _artifact())
    wanted = {_key(m): m for m in result.resources}
    live = {_key(m): m for m in mrs}
    if result.pending:
        problems.append(f"renderer still waits for {[str(p) for p in result.pending][:5]}")
    if set(wanted) - set(live):
        problems.append(f"missing MRs: {sorted(set(wanted) - set(live))[:5]}")
    if set(live) - set(wanted):
        problems.append(f"MRs the spec does not render (orphans): {sorted(set(live) - set(wanted))[:5]}")
    stale = [f"{k[0]}/{k[1]}" for k, m in wanted.items() if k in live and not is_subset(m["spec"], live[k]["spec"])]
    if stale:
        problems.append(f"{len(stale)} MRs whose spec is not what the CR renders: {stale[:5]}")
    unready = [f"{_label(m)} ({readiness(m)[1]})" for m in mrs if not readiness(m)[0]]
    if unready:
        problems.append(f"{len(unready)} MRs not Ready+Synced at their generation (the provider's part): "
                        f"{unready[:3]}")
    counts = status.get("resources") or {}
    if not counts.get("ready") == counts.get("total") == len(mrs):
        problems.append(f"status.resources {counts} but {len(mrs)} MRs exist")

    if threshold is not None:
        in_status = _alarm_thresholds(obj)
        alarm = _rds_cpu_alarm(mrs)
        alarm_name = alarm["metadata"]["name"]
        if in_status.get(alarm_name) != threshold:
            problems.append(f"status.alarmThresholds[{STANDBY}][{alarm_name}]={in_status.get(alarm_name)}, "
                            f"want {threshold}")
        if float(alarm["spec"]["forProvider"]["threshold"]) != threshold:
            problems.append(f"MetricAlarm/{alarm_name} threshold {alarm['spec']['forProvider']['threshold']}, "
                            f"want {threshold}")
    return problems


def wait_converged(env: Env, cr: Mapping[str, Any], *, threshold: float | None = None,
                   timeout: float = CONVERGE_TIMEOUT, context: str = "") -> float:
    """Wait until convergence_problems() is empty; seconds it took. The failure lists what was still wrong."""
    began = time.monotonic()
    last: list[str] = []
    while time.monotonic() - began < timeout:
        last = convergence_problems(env, cr, threshold)
        if not last:
            return time.monotonic() - began
        time.sleep(0.5)
    raise AssertionError(f"{context}: not converged after {timeout}s ({_processes(env)}):\n  " + "\n  ".join(last)
                         + f"\n{env.logs()}")


def mrs_highest_tier_first(env: Env) -> list[dict[str, Any]]:
    """Every MR we manage in the namespace, listed kind by kind from deletion tier 5 down to tier 0.

    One sample is not atomic (kubectl lists one kind after another), so the order matters: an MR of a lower tier
    seen present was present when the higher tiers were listed too (deleted objects do not come back), which
    makes "a higher tier is gone or deleting while a lower one is present" a sound conclusion from one sample.
    """
    items = list(env.cp.kubectl_json("get", KINDS_HIGHEST_TIER_FIRST, "-n", env.ns, "-l", MANAGED)["items"])
    order = [BY_API_KIND[(m["apiVersion"], m["kind"])].tier for m in items]
    assert order == sorted(order, reverse=True), "kubectl did not list the kinds in the order given"
    return items


def wait_deleted(env: Env, name: str, *, tiers: Mapping[tuple[str, str], int] | None = None,
                 timeout: float = DELETE_TIMEOUT, context: str = "") -> float:
    """Wait until the CR is gone and no MR we manage is left in the namespace; seconds it took.

    Meanwhile, every sample asserts the deletion invariants: the CR (its finalizer) outlives every MR, and, given
    the `tiers` of the MRs that existed before the delete, no MR of a tier above the lowest one still present is
    gone or being deleted.
    """
    began = time.monotonic()
    last = ""
    samples = 0
    while time.monotonic() - began < timeout:
        obj = env.get(name)  # first the CR, then the MRs: "CR gone, then MRs seen" means released too early
        left = mrs_highest_tier_first(env)
        samples += 1
        if obj is None and not left:
            return time.monotonic() - began
        assert obj is not None, (f"{context}: the CR is gone (finalizer released) while {len(left)} MRs remain: "
                                 f"{[_label(m) for m in left[:5]]}\n{env.logs()}")
        if tiers and left:
            lowest = min(_tier(m) for m in left)
            present = {_key(m) for m in left}
            early_gone = sorted(f"{k[0]}/{k[1]} (tier {t})" for k, t in tiers.items()
                                if t > lowest and k not in present)
            early_deleting = sorted(f"{_label(m)} (tier {_tier(m)})" for m in left
                                    if _tier(m) > lowest and m["metadata"].get("deletionTimestamp"))
            assert not early_gone and not early_deleting, (
                f"{context}: tier {lowest} is still present (e.g. "
                f"{next(_label(m) for m in left if _tier(m) == lowest)}) but higher tiers are gone: "
                f"{early_gone[:5]} or deleting: {early_deleting[:5]} (sample {samples})\n{env.logs()}")
        last = (f"CR present: {_cond(obj, 'Ready').get('message')}; "
                f"{len(left)} MRs left, e.g. {[_label(m) for m in left[-5:]]}")
        time.sleep(0.3)
    raise AssertionError(f"{context}: deletion not finished after {timeout}s ({_processes(env)}): {last}\n"
                         f"{env.logs()}")


def sample_for(seconds: float, check: Callable[[], None]) -> int:
    """Run `check` (which asserts) repeatedly for `seconds`; the number of samples taken."""
    samples = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check()
        samples += 1
        time.sleep(0.3)
    return samples


# ------------------------------------------------------------------------------------- 1. SIGKILL x 20

# Where the 20 kills go in each create -> update -> delete cycle. A phase with 2 kills SIGKILLs the operator 0..3 s
# after the action, restarts it, and SIGKILLs the fresh one 0..3 s into its own recovery (listing, index warm-up,
# re-apply / re-delete) before it may converge: 4 cycles cover 20 kill points in about half the time of 7 x 3.
KILLS_PER_PHASE: dict[str, int] = {"create": 2, "update": 1, "delete": 2}
KILLS_WANTED = 20


@dataclass
class KillLog:
    seed: int
    killed: list[processes.Process] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)


def _kill_and_restart(env: Env, rng: random.Random, log: KillLog, what: str, name: str,
                      operator_env: dict[str, str]) -> None:
    """SIGKILL the operator 0..3 s after an action, note how far it had got, start a fresh one."""
    assert env.operator is not None
    delay = rng.uniform(0.0, 3.0)
    time.sleep(delay)
    env.operator.kill()
    log.killed.append(env.operator)
    obj = env.get(name)  # frozen while no operator runs: what the killed one had done
    if what.endswith("update"):
        state = (f"CR observedGeneration {(obj or {}).get('status', {}).get('observedGeneration')}/"
                 f"{(obj or {}).get('metadata', {}).get('generation')}")
    else:
        mrs = env.mrs(name)
        state = (f"{len(mrs)} MRs ({sum(1 for m in mrs if m['metadata'].get('deletionTimestamp'))} deleting), "
                 f"CR {'gone' if obj is None else 'Ready=' + str(_cond(obj, 'Ready').get('status'))}")
    began = time.monotonic()
    env.start_operator(**operator_env)
    log.note(f"kill #{len(log.killed):2d} {what:<10} +{delay:4.2f}s: {state}; restarted in "
             f"{time.monotonic() - began:3.1f}s")


def _kills(env: Env, rng: random.Random, log: KillLog, phase: str, cycle: int, name: str,
           operator_env: dict[str, str]) -> None:
    for _ in range(KILLS_PER_PHASE[phase]):
        if len(log.killed) < KILLS_WANTED:
            _kill_and_restart(env, rng, log, f"c{cycle} {phase}", name, operator_env)


def test_sigkill_at_20_random_points_converges(env: Env) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**31))
    log = KillLog(seed)
    log.note(f"FAULT_SEED={seed}")
    rng = random.Random(seed)
    operator_env: dict[str, str] = {}
    env.start_simulator()
    env.start_operator(**operator_env)
    base = load_example("two-region.yaml")
    cycle = 0
    try:
        while len(log.killed) < KILLS_WANTED:
            cycle += 1
            name = f"payments-c{cycle}"  # a fresh name: an MR of an earlier cycle left behind shows as an orphan
            cr = copy.deepcopy(base)
            cr["metadata"]["name"] = name
            ctx = f"FAULT_SEED={seed} cycle {cycle}"

            began = time.monotonic()
            env.apply(cr)
            _kills(env, rng, log, "create", cycle, name, operator_env)
            took = wait_converged(env, cr, context=f"{ctx} create")
            log.note(f"   converged {took:4.1f}s after the last restart ({time.monotonic() - began:4.1f}s in all)")

            value = 40 + cycle
            before = _alarm_thresholds(env.get(name))
            cr = _with_threshold(cr, value)
            began = time.monotonic()
            env.apply(cr)
            _kills(env, rng, log, "update", cycle, name, operator_env)
            took = wait_converged(env, cr, threshold=value, context=f"{ctx} update {THRESHOLD}={value}")
            after = _alarm_thresholds(env.get(name))
            moved = {k: (before.get(k), v) for k, v in after.items() if v != before.get(k)}
            assert len(moved) == 1, f"{ctx}: exactly one alarm threshold must change: {moved}"
            log.note(f"   converged {took:4.1f}s after the last restart ({time.monotonic() - began:4.1f}s in all), "
                     f"{moved}")

            tiers = {_key(m): _tier(m) for m in env.mrs(name)}
            began = time.monotonic()
            _delete_cr(env, name)
            _kills(env, rng, log, "delete", cycle, name, operator_env)
            took = wait_deleted(env, name, tiers=tiers, context=f"{ctx} delete")
            log.note(f"   deleted   {took:4.1f}s after the last restart ({time.monotonic() - began:4.1f}s in all)")
    finally:
        for proc in log.killed:
            proc.cleanup()
    assert len(log.killed) == KILLS_WANTED


# ------------------------------------------------------------------------ 2. API server + etcd restart x 5


def _liveness(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return int(resp.status)


@pytest.mark.restarts_apiserver
def test_apiserver_and_etcd_restart_during_reconcile_5_times(env: Env) -> None:
    seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(2**31))
    print(f"FAULT_SEED={seed}", flush=True)
    rng = random.Random(seed)
    env.start_simulator()
    # A watch that delivers nothing for 10 s is re-opened; the per-deployment loop resyncs every 15 s regardless.
    env.start_operator(REGIONAL_OPERATOR_WATCH_INACTIVITY="10", REGIONAL_OPERATOR_RESYNC_SECONDS="15")
    assert env.operator is not None and env.operator.proc is not None
    assert env.simulator is not None and env.simulator.proc is not None
    operator_pid, simulator_pid = env.operator.proc.pid, env.simulator.proc.pid
    cr = load_example("two-region.yaml")
    name = cr["metadata"]["name"]
    figures: list[str] = []
    for i in range(5):
        threshold: float | None = None
        if i == 0:  # create: ~20 s of applying ~225 MRs and waiting for the provider
            delay = rng.uniform(0.5, 8.0)
            phase = "create"
        else:  # update: a threshold and the CostCenter tag, i.e. ~180 MRs re-applied and re-readied
            threshold = 50 + i
            cr = _with_threshold(cr, int(threshold))
            cr["spec"]["costCenter"] = f"cc-payments-{i:03d}"
            delay = rng.uniform(0.0, 3.0)
            phase = f"update {i}"
        env.apply(cr)
        time.sleep(delay)
        obj = env.get(name) or {}
        at = (f"observedGeneration {obj.get('status', {}).get('observedGeneration')}/"
              f"{obj.get('metadata', {}).get('generation')}, Ready={_cond(obj, 'Ready').get('status')} "
              f"{_cond(obj, 'Ready').get('message', '')[:40]!r}")
        began = time.monotonic()
        env.cp.restart_apiserver()
        down = time.monotonic() - began
        took = wait_converged(env, cr, threshold=threshold, timeout=120,
                              context=f"FAULT_SEED={seed} restart {i + 1} during {phase}")
        line = (f"restart {i + 1} during {phase:<8} +{delay:4.2f}s ({at}): API down->ready {down:4.1f}s, "
                f"converged {took:4.1f}s after it was back")
        figures.append(line)
        print(line, flush=True)

    # Watches are live again, not just the resync net: a new change is picked up at once.
    cr = _with_threshold(cr, 60)
    began = time.monotonic()
    env.apply(cr)
    took = wait_converged(env, cr, threshold=60, timeout=60, context=f"FAULT_SEED={seed} change after restarts")
    print(f"a change after the 5th restart converged in {took:.1f}s", flush=True)
    assert took < 15, f"a change after the restarts took {took:.1f}s (the resync is 15 s): watch stalled?\n" + \
        "\n".join(figures) + f"\n{env.logs()}"

    assert env.operator.proc.poll() is None and env.operator.proc.pid == operator_pid, \
        f"the operator process was replaced or died\n{env.logs()}"
    assert env.simulator.proc.poll() is None and env.simulator.proc.pid == simulator_pid, \
        f"the simulator died\n{env.logs()}"
    assert _liveness(env.operator.liveness_url) == 200  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- 3. provider failures


def _example_converged(env: Env) -> tuple[dict[str, Any], str]:
    """Simulator and operator running, the two-region example applied and Ready: (the CR, its name)."""
    env.start_simulator()
    env.start_operator()
    cr = load_example("two-region.yaml")
    env.apply(cr)
    wait_converged(env, cr, context="initial create")
    return cr, cr["metadata"]["name"]


def test_provider_failure_reported_by_name_and_recovers(env: Env) -> None:
    cr, name = _example_converged(env)
    mrs = env.mrs(name)
    alarm = _rds_cpu_alarm(mrs)
    queue = next(m for m in mrs if m["kind"] == "Queue" and m["metadata"]["labels"][LABEL_REGION] == STANDBY)
    failing = {_label(alarm): "LimitExceededException: simulated alarm quota exhausted",
               _label(queue): "AWS.SimpleQueueService.NonExistentQueue: simulated provider outage"}
    _annotate(env, alarm, f"{FAIL}={failing[_label(alarm)]}")
    _annotate(env, queue, f"{FAIL}={failing[_label(queue)]}")

    def names_both(message: str) -> bool:
        return all(label in message and reason in message for label, reason in failing.items())

    ready = env.wait_for("Ready=False naming both failing MRs and their reasons",
                         lambda: (c := env.condition(name, "Ready")) and c["status"] == "False"
                         and names_both(c["message"]) and c, timeout=60)
    print(f"Ready: {ready['reason']}: {ready['message']}", flush=True)

    def still_failing() -> None:
        obj = env.get(name)
        ready, stalled = _cond(obj, "Ready"), _cond(obj, "Stalled")
        region, healthy = _cond(obj, f"RegionReady.{STANDBY}"), _cond(obj, "RegionReady.us-east-1")
        assert ready.get("status") == "False" and names_both(ready.get("message", "")), f"{ready}\n{env.logs()}"
        assert region.get("status") == "False" and names_both(region.get("message", "")), \
            f"{region}\n{env.logs()}"
        assert healthy.get("status") == "True", f"the healthy region is blamed: {healthy}"
        assert stalled.get("status") == "False", f"a provider error is not a spec error: {stalled}\n{env.logs()}"
        assert _cond(obj, "AlarmsConfigured").get("status") == "False"

    samples = sample_for(5.0, still_failing)  # the simulator retries every second meanwhile (counted below)
    for mr in (alarm, queue):
        _annotate(env, mr, f"{FAIL}-")
    took = wait_converged(env, cr, timeout=60, context="after removing the fail annotations")
    print(f"{samples} samples while failing; Ready again {took:.1f}s after the annotations went", flush=True)

    # The simulator reports its counters when it stops; a fresh one takes over (the teardown needs one running
    # to release the MRs' finalizers).
    old = env.simulator
    assert old is not None
    old.stop()
    exit_line = next(line for line in reversed(old.logs().splitlines()) if "stopped;" in line)
    old.cleanup()
    env.start_simulator()
    retries = int(exit_line.split('"fault_retries": ')[1].split(",")[0])
    assert retries >= 8, f"the simulator should have retried the 2 failing MRs about every second: {exit_line}"


# ------------------------------------------------------------------------------ 4. stuck deletion


def test_delete_with_stuck_mr_waits_and_never_drops_the_finalizer_early(env: Env) -> None:
    _, name = _example_converged(env)
    before = {_key(m): m for m in env.mrs(name)}
    stuck = next(m for m in before.values() if m["kind"] == "VPCPeeringConnection")
    stuck_tier, stuck_label = _tier(stuck), _label(stuck)
    assert stuck_tier == 1
    higher = {k for k, m in before.items() if _tier(m) > stuck_tier}
    lower_or_same = {k for k, m in before.items() if _tier(m) <= stuck_tier and k != _key(stuck)}
    assert {_tier(before[k]) for k in higher} == {2, 3, 4, 5}
    _annotate(env, stuck, f"{STICK}=true")
    _delete_cr(env, name)

    def stuck_alone() -> bool:
        left = {_key(m) for m in env.mrs(name)}
        message = _cond(env.get(name), "Ready").get("message", "")
        return not (left & lower_or_same) and stuck_label in message

    env.wait_for(f"everything below tier {stuck_tier + 1} but {stuck_label} gone, and it is named", stuck_alone,
                 timeout=90)

    def holds() -> None:
        obj = env.get(name)
        assert obj is not None, f"the CR went while {stuck_label} still exists\n{env.logs()}"
        assert "platform.regional.io/finalizer" in obj["metadata"].get("finalizers", []), obj["metadata"]
        ready = _cond(obj, "Ready")
        assert (ready.get("status"), ready.get("reason")) == ("False", "Deleting"), ready
        assert stuck_label in ready.get("message", ""), f"{ready}\n{env.logs()}"
        now = {_key(m): m for m in env.mrs(name)}
        assert _key(stuck) in now and now[_key(stuck)]["metadata"].get("deletionTimestamp"), "stuck MR state"
        gone = sorted(higher - set(now))
        assert not gone, f"tier > {stuck_tier} went while {stuck_label} is stuck: {gone[:5]}\n{env.logs()}"
        deleting = sorted(_label(now[k]) for k in higher if now[k]["metadata"].get("deletionTimestamp"))
        assert not deleting, f"tier > {stuck_tier} asked to go while {stuck_label} is stuck: {deleting[:5]}"

    samples = sample_for(10.0, holds)
    print(f"{samples} samples over 10 s: finalizer held, only {stuck_label} (tier {stuck_tier}) waited on; "
          f"{len(higher)} MRs of tiers 2-5 untouched", flush=True)
    _annotate(env, stuck, f"{STICK}-")
    took = wait_deleted(env, name, tiers={k: _tier(m) for k, m in before.items()},
                        context="after removing the stick annotation")
    print(f"everything gone and the CR released {took:.1f}s after the annotation went", flush=True)
