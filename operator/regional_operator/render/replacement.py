"""No silent replacement: a rendered MR must not change a field AWS can only set at creation on a resource that
already exists.

The CRD's transition rules (x-kubernetes-validations with oldSelf) refuse such edits of the CR itself. What they
cannot see is a value that comes from the region defaults (a ConfigMap that can change under a live object, e.g.
a region's availabilityZones) or a spec field that was added to pin what the defaults gave. For those the
renderer compares what it would render with what the provider reports for the live MR (`status.atProvider`,
i.e. what AWS created) and refuses with a SpecValidationError naming the spec field: the operator then reports
Stalled and touches nothing, as for any invalid spec. Until the provider has reported a value there is nothing
to compare (the resource is being created from this very render).

Why refuse rather than render: the provider cannot apply the change (Terraform marks these attributes ForceNew
and upjet refuses ForceNew diffs, "cannot change the value of the argument"), so the MR would be stuck with a
sync error and the estate half-changed; see docs/aws-semantics.md, "Replacement, failover and region identity".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ..errors import SpecValidationError
from .context import LABEL_REGION, RenderContext

# (kind, forProvider field = atProvider attribute, the spec.regions[i] field it comes from, the Terraform source)
FORCE_NEW: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("VPC", "cidrBlock", "vpcCidr", "internal/service/ec2/vpc_.go: cidr_block ForceNew"),
    ("Subnet", "cidrBlock", "vpcCidr", "internal/service/ec2/vpc_subnet.go: cidr_block ForceNew"),
    ("Subnet", "availabilityZone", "availabilityZones",
     "internal/service/ec2/vpc_subnet.go: availability_zone ForceNew"),
)


def check_no_replacement(ctx: RenderContext, resources: Sequence[dict[str, Any]]) -> None:
    """Raise SpecValidationError when a rendered MR would change a ForceNew field of its live counterpart."""
    for res in resources:
        for kind, attribute, spec_field, _source in FORCE_NEW:
            if res["kind"] != kind:
                continue
            name = res["metadata"]["name"]
            live = ctx.observed.attribute(kind, name, attribute)
            wanted = res["spec"]["forProvider"].get(attribute)
            if live is None or wanted is None or live == wanted:
                continue
            region = ctx.region(res["metadata"]["labels"][LABEL_REGION])
            raise SpecValidationError(
                f"spec.regions[{region.index}].{spec_field}",
                f"would change {kind}/{name} {attribute} from {live} to {wanted}, which AWS cannot do in place "
                f"(the subnet or VPC would have to be replaced); {spec_field} of a live region is immutable: keep "
                f"the live value (set it in the CR if it came from the region defaults)",
            )
