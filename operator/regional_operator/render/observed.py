"""What the provider has reported about our MRs: the renderer's only input that is not the spec.

The operator builds it from the live MRs (status.atProvider, conditions); the CLI from a file holding the same
objects (`kubectl get ... -o yaml`). Values that exist only after AWS creates something (a peering connection id,
an ALB ARN, a source DB ARN, a queue ARN) are read from here; when one is missing the dependent MR is not
rendered and the result records what it waits for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..readiness import readiness

# Every status.atProvider attribute the renderer or the status outputs read. The operator keeps only these of
# each live MR (memory: the provider mirrors most of the spec into atProvider); observed_value() refuses others.
# availabilityZone, cidrBlock: what a live subnet/VPC was created with (render/replacement.py refuses a change);
# replicateSourceDb: the source a live read replica follows (RDS cannot move it to another source).
# backupRetentionPeriod, streamViewType, versioningConfiguration: what an adopted database, table or bucket must
# have before a secondary region can replicate from it (render/adoption.py, Blocked).
OBSERVED_ATTRIBUTES: frozenset[str] = frozenset({"id", "arn", "arnSuffix", "dnsName", "address", "url",
                                                 "availabilityZone", "cidrBlock", "replicateSourceDb",
                                                 "backupRetentionPeriod", "streamEnabled", "streamViewType",
                                                 "versioningConfiguration"})


@dataclass(frozen=True)
class ObservedResource:
    """The reported values of one MR, and whether it is ready by the one readiness rule
    (regional_operator.readiness). Dependents that AWS refuses until what they need is usable (bucket replication
    before versioning, an ECS service before its listener, a redrive policy before the DLQ) are gated on it."""

    kind: str
    name: str
    at_provider: Mapping[str, Any]
    ready: bool = False

    def get(self, attribute: str) -> str | None:
        value = self.at_provider.get(attribute)
        return value if isinstance(value, str) and value else None

    def raw(self, attribute: str) -> Any:
        """A reported value of any JSON type (a number, a flag, a small object), None while unreported."""
        return self.at_provider.get(attribute)


@dataclass(frozen=True)
class Observed:
    """Observed state keyed by (kind, metadata.name). Empty means "nothing created yet"."""

    resources: Mapping[tuple[str, str], ObservedResource] = field(default_factory=dict)

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> Observed:
        """Build from MR objects as the API server returns them."""
        found: dict[tuple[str, str], ObservedResource] = {}
        for obj in objects:
            meta = obj.get("metadata") or {}
            status = obj.get("status") or {}
            res = ObservedResource(kind=str(obj.get("kind")), name=str(meta.get("name")),
                                   at_provider=status.get("atProvider") or {},
                                   ready=readiness(obj)[0] if meta else False)
            found[(res.kind, res.name)] = res
        return cls(found)

    def attribute(self, kind: str, name: str, attribute: str) -> str | None:
        """`status.atProvider.<attribute>` of one MR, or None while the provider has not reported it."""
        res = self.resources.get((kind, name))
        return res.get(attribute) if res else None

    def raw_attribute(self, kind: str, name: str, attribute: str) -> Any:
        """`status.atProvider.<attribute>` of one MR whatever its JSON type, or None while unreported."""
        if attribute not in OBSERVED_ATTRIBUTES:
            raise ValueError(f"atProvider.{attribute} is not kept by the operator: add it to OBSERVED_ATTRIBUTES")
        res = self.resources.get((kind, name))
        return res.raw(attribute) if res else None

    def reported(self, kind: str, name: str) -> bool:
        """Whether the provider has reported anything of the resource (it found it in AWS)."""
        res = self.resources.get((kind, name))
        return bool(res and res.at_provider)

    def is_ready(self, kind: str, name: str) -> bool:
        """Ready=True at the MR's current generation: AWS has the resource and the provider reports it usable."""
        res = self.resources.get((kind, name))
        return bool(res and res.ready)
