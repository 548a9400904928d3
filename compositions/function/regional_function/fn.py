"""The gRPC face of the function: a RunFunctionRequest in, compose(), a RunFunctionResponse out."""

from __future__ import annotations

from typing import Any

import grpc
from crossplane.function import logging, resource, response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from regional_operator.artifact import LambdaArtifact
from regional_operator.defaults_store import DefaultsStore
from regional_operator.errors import SpecValidationError

from .compose import compose


def from_struct(value: Any) -> Any:
    """A protobuf Struct's value as the API server would have sent it as JSON: Struct holds every number as a
    double, so integral ones (a count, a size in GiB) come back as ints, which the spec's strict model requires."""
    if isinstance(value, dict):
        return {k: from_struct(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_struct(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


STATUS = {True: fnv1.STATUS_CONDITION_TRUE, False: fnv1.STATUS_CONDITION_FALSE, None: fnv1.STATUS_CONDITION_UNKNOWN}


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """Renders a RegionalDeployment XR with the operator's renderer.

    Region defaults come from the same file the operator reads ($REGIONAL_OPERATOR_DEFAULTS, else the built-in
    one) and are reloaded when it changes, as the operator does with its ConfigMap.
    """

    def __init__(self, defaults: DefaultsStore, artifact: LambdaArtifact | None) -> None:
        self.defaults = defaults
        self.artifact = artifact
        self.log = logging.get_logger()

    async def RunFunction(self, req: fnv1.RunFunctionRequest,
                          _: grpc.aio.ServicerContext) -> fnv1.RunFunctionResponse:
        rsp = response.to(req)
        xr = from_struct(resource.struct_to_dict(req.observed.composite.resource))
        observed = [from_struct(resource.struct_to_dict(r.resource)) for r in req.observed.resources.values()]
        self.defaults.refresh()
        try:
            out = compose(xr, observed, self.defaults.current, self.artifact)
        except SpecValidationError as err:
            # What the operator reports as Stalled: nothing is changed, the field and the rule are named.
            response.fatal(rsp, f"invalid RegionalDeployment: {err.field}: {err.rule}")
            return rsp
        for desired in out.resources:
            target = rsp.desired.resources[desired.name]
            resource.update(target, desired.resource)
            target.ready = fnv1.READY_TRUE if desired.ready else fnv1.READY_FALSE
        resource.update_status(rsp.desired.composite, out.status)
        if not out.ready:
            rsp.desired.composite.ready = fnv1.READY_FALSE
        for cond in out.conditions:
            rsp.conditions.append(fnv1.Condition(type=cond.type, status=STATUS[cond.status], reason=cond.reason,
                                                 message=cond.message, target=fnv1.TARGET_COMPOSITE))
        for warning in out.warnings:
            response.warning(rsp, warning)
        self.log.info("composed", xr=xr.get("metadata", {}).get("name"), resources=len(out.resources),
                      pending=len(out.warnings))
        return rsp
