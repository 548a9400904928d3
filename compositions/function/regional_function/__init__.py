"""The Crossplane front door of regional-operator: a composition function over the same renderer.

`compose` is pure (XR + observed composed resources -> desired MRs, Usages, conditions, results); `fn` is the
gRPC servicer that wraps it for Crossplane (crossplane-function-sdk-python); `main` is the process entry point.
The renderer, the readiness rule and the status conditions are imported from regional_operator, never copied, so
the operator and the composition cannot disagree about what a RegionalDeployment is.
"""
