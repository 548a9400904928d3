"""The one place names are made. Every AWS-facing name is `<type>-<environmentSuffix>-<regioncode>-<token>` (or
without the region code for global things), checked against the limit of the AWS field it becomes.

The token is 8 hex of sha256("<namespace>/<name>") of the RegionalDeployment: IAM names are unique in the account
and most other names in the account and region, so two deployments with the same suffix (in one namespace or in
two) must never render the same name, or the second would silently adopt, overwrite and later delete the first's
resources (for the kinds the provider identifies by name).

The MR's Kubernetes name is the same string, so `kubectl get` shows what AWS shows, and for the kinds whose
AWS identity is a name (buckets, roles, functions, queues, DB identifiers...) Crossplane's external name is it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Final

from .aws_facts import NAME_LIMITS, REGION_DIRECTION_CODES
from .errors import SpecValidationError

REGION_PATTERN: Final = re.compile(
    r"^(?P<area>[a-z]{2})-(?P<gov>gov-)?(?P<dir>" + "|".join(REGION_DIRECTION_CODES) + r")-(?P<num>[1-9])$"
)
# no "--": RDS identifiers refuse consecutive hyphens
SUFFIX_PATTERN: Final = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# Longest region code: area (2) + gov marker (1) + direction (2) + digit (1).
MAX_REGION_CODE_LENGTH: Final = 6
UNIQUE_TOKEN_LENGTH: Final = 8

# (type prefix, AWS field limit key, regional?) for every name template with an AWS limit tighter than 253.
# The longest allowed environmentSuffix is derived from these, so adding a template can only tighten it.
NAME_TEMPLATES: Final[dict[str, tuple[str, str, bool]]] = {
    "alb": ("alb", "elbv2-lb", True),
    "target-group": ("tg", "elbv2-target-group", True),
    "database": ("payments-db", "rds-identifier", True),
    "db-subnet-group": ("payments-db", "rds-identifier", True),
    "uploads-bucket": ("uploads", "s3-bucket", True),
    "artifacts-bucket": ("artifacts", "s3-bucket", True),
    "lambda-role": ("payments-lambda", "iam-role", True),
    "ecs-execution-role": ("ecs-exec", "iam-role", True),
    "ecs-task-role": ("ecs-task", "iam-role", True),
    "replication-role": ("s3-replication", "iam-role", True),
    "lambda-function": ("payments-processor", "lambda-function", True),
    "queue": ("payments", "sqs-queue", True),
    "dead-letter-queue": ("payments-dlq", "sqs-queue", True),
    "flow-logs-role": ("vpc-flow-logs", "iam-role", True),
    "alb-logs-bucket": ("alb-logs", "s3-bucket", True),
}


@functools.lru_cache(maxsize=512)
def region_code(region: str) -> str:
    """Short, unambiguous region code: us-east-1 -> use1, us-gov-west-1 -> usgw1, ap-southeast-2 -> apse2.
    Cached: a render asks for it about 500 times per region (every regional name), and the regex was the largest
    single cost of making names (bench/render_bench.py --profile)."""
    match = REGION_PATTERN.match(region)
    if match is None:
        raise SpecValidationError("spec.regions[].name", f"{region!r} is not an AWS region name like us-east-1")
    gov = "g" if match["gov"] else ""
    return f"{match['area']}{gov}{REGION_DIRECTION_CODES[match['dir']]}{match['num']}"


def unique_token(namespace: str, name: str) -> str:
    """Stable 8-hex token from the CR's identity, in every AWS name: two CRs must never pick the same one."""
    return hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:UNIQUE_TOKEN_LENGTH]


def _suffix_room(template: str) -> int:
    """How many characters of suffix `template` leaves within its AWS limit, with the longest region code."""
    prefix, limit_key, regional = NAME_TEMPLATES[template]
    fixed = len(prefix) + 1 + 1 + UNIQUE_TOKEN_LENGTH
    if regional:
        fixed += 1 + MAX_REGION_CODE_LENGTH
    return NAME_LIMITS[limit_key] - fixed


def binding_template() -> str:
    """The template whose AWS limit bounds the suffix (the ALB name), named in the error message."""
    return min(NAME_TEMPLATES, key=_suffix_room)


def max_suffix_length() -> int:
    """The longest environmentSuffix every template can carry with the longest region code and the token."""
    return min(NAME_LIMITS["k8s-name"], _suffix_room(binding_template()))


class Namer:
    """Builds every name of one RegionalDeployment; raises SpecValidationError rather than emit a name AWS refuses."""

    def __init__(self, suffix: str, namespace: str, cr_name: str) -> None:
        if not SUFFIX_PATTERN.match(suffix):
            raise SpecValidationError(
                "spec.environmentSuffix",
                "must be lowercase letters and digits in '-'-separated groups (no leading, trailing or double '-')",
            )
        if len(suffix) > max_suffix_length():
            limit_key = NAME_TEMPLATES[binding_template()][1]
            raise SpecValidationError(
                "spec.environmentSuffix",
                f"must be at most {max_suffix_length()} characters (the {binding_template()} name, "
                f"<prefix>-<suffix>-<regioncode>-<token>, must fit the AWS {limit_key} limit of "
                f"{NAME_LIMITS[limit_key]})",
            )
        self.suffix = suffix
        self.token = unique_token(namespace, cr_name)
        self._regional: dict[tuple[str, str], str] = {}  # builders ask for the same name many times (references)

    def named(self, template: str, region: str | None = None) -> str:
        """A name from NAME_TEMPLATES, checked against the AWS limit of its field."""
        prefix, limit_key, regional = NAME_TEMPLATES[template]
        name = self.regional(prefix, region) if regional and region else self.global_(prefix)
        if len(name) > NAME_LIMITS[limit_key]:
            raise SpecValidationError(
                "spec.environmentSuffix", f"name {name!r} exceeds the AWS {limit_key} limit of {NAME_LIMITS[limit_key]}"
            )
        return name

    def regional(self, prefix: str, region: str) -> str:
        """`<prefix>-<suffix>-<regioncode>-<token>` for a resource that lives in one region."""
        name = self._regional.get((prefix, region))
        if name is None:
            name = self._regional[prefix, region] = self._checked(
                f"{prefix}-{self.suffix}-{region_code(region)}-{self.token}")
        return name

    def global_(self, prefix: str) -> str:
        """`<prefix>-<suffix>-<token>` for a resource that spans regions (the sessions and ledger global tables)."""
        return self._checked(f"{prefix}-{self.suffix}-{self.token}")

    @staticmethod
    def _checked(name: str) -> str:
        if len(name) > NAME_LIMITS["k8s-name"]:
            raise SpecValidationError("spec.environmentSuffix", f"name {name!r} exceeds 253 characters")
        return name
