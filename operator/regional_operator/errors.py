"""Typed errors: bad input must name the field and the rule it broke, so users never guess."""

from __future__ import annotations


class SpecValidationError(ValueError):
    """A RegionalDeployment spec that cannot be rendered.

    `field` is the JSON path users see in `kubectl explain` (e.g. `spec.regions[1].vpcCidr`) and `rule` the
    constraint in words; the operator copies both into the Stalled condition and the CLI prints them.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class DefaultsError(ValueError):
    """The region-defaults configuration file is malformed (an operator installation problem, not a user one)."""
