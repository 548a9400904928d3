"""Loading the region defaults file and merging it with a region's overrides from the CR.

Precedence, lowest first: the file's `common`, the file's `regions.<name>`, the CR's `spec.regions[i]`.
The result is a fully resolved RegionSettings, so builders never deal with "maybe set" values.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .errors import DefaultsError, SpecValidationError
from .spec import RegionSpec
from .validation import check_settings

DEFAULTS_ENV = "REGIONAL_OPERATOR_DEFAULTS"


class _Layer(BaseModel):
    """One layer of defaults; same camelCase keys as the CR so the file reads like a region override."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    availability_zones: list[str] | None = None
    waf_blocked_countries: list[str] | None = None
    waf_rate_limit_per_5min: int | None = Field(default=None, alias="wafRateLimitPer5Min", ge=100)
    log_retention_days: int | None = None
    production_log_retention_days: int | None = None
    database: dict[str, Any] | None = None
    lambda_: dict[str, Any] | None = Field(default=None, alias="lambda")
    fargate: dict[str, Any] | None = None
    alarm_thresholds: dict[str, float] | None = None
    payments_api_endpoint: str | None = None


class RegionDefaults(BaseModel):
    """The parsed defaults file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_version: str = Field(alias="apiVersion")
    kind: str
    version: str
    common: _Layer
    regions: dict[str, _Layer] = {}


@dataclass(frozen=True)
class RegionSettings:
    """Everything region-specific, fully resolved. `index` is the region's position in spec.regions (for errors)."""

    index: int
    availability_zones: tuple[str, ...]
    waf_blocked_countries: tuple[str, ...]
    waf_rate_limit_per_5min: int
    log_retention_days: int
    production_log_retention_days: int
    db_instance_class: str
    db_allocated_storage_gib: int
    lambda_memory_mb: int
    lambda_timeout_seconds: int
    lambda_reserved_concurrency: int
    fargate_cpu: int
    fargate_memory: int
    fargate_desired_count: int
    thresholds: dict[str, float]
    payments_api_endpoint: str


def load_defaults(path: str | Path | None = None) -> RegionDefaults:
    """Load the defaults: an explicit path, else $REGIONAL_OPERATOR_DEFAULTS, else the file shipped in the package."""
    chosen = path or os.environ.get(DEFAULTS_ENV)
    if chosen:
        text = Path(chosen).read_text(encoding="utf-8")
    else:
        text = resources.files("regional_operator").joinpath("data/region-defaults.yaml").read_text("utf-8")
    return parse_defaults(text)


def parse_defaults(text: str) -> RegionDefaults:
    try:
        return RegionDefaults.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as err:
        raise DefaultsError(f"region defaults file is invalid: {err}") from None


def _pick(field: str, index: int, *layers: Any) -> Any:
    """The highest-precedence non-None value among layers (dicts or None), or a SpecValidationError."""
    for layer in reversed(layers):
        if layer is not None and layer.get(field) is not None:
            return layer[field]
    raise SpecValidationError(
        f"spec.regions[{index}].{field}", "no value in the CR and none in the region defaults for this region"
    )


def resolve_region(defaults: RegionDefaults, region: RegionSpec, index: int) -> RegionSettings:
    """Merge common -> file region -> CR region into one RegionSettings."""
    common = defaults.common.model_dump(by_alias=True, exclude_none=True)
    file_region = defaults.regions.get(region.name)
    per_file = file_region.model_dump(by_alias=True, exclude_none=True) if file_region else {}
    cr = region.model_dump(by_alias=True, exclude_none=True)

    def nested(key: str) -> list[dict[str, Any] | None]:
        return [common.get(key), per_file.get(key), cr.get(key)]

    def top(field: str) -> Any:
        return _pick(field, index, common, per_file, cr)

    thresholds: dict[str, float] = {}
    for layer in nested("alarmThresholds"):
        thresholds.update(layer or {})
    settings = RegionSettings(
        index=index,
        availability_zones=tuple(top("availabilityZones")),
        waf_blocked_countries=tuple(top("wafBlockedCountries")),
        waf_rate_limit_per_5min=int(top("wafRateLimitPer5Min")),
        log_retention_days=int(top("logRetentionDays")),
        production_log_retention_days=int(top("productionLogRetentionDays")),
        db_instance_class=str(_pick("instanceClass", index, *nested("database"))),
        db_allocated_storage_gib=int(_pick("allocatedStorageGiB", index, *nested("database"))),
        lambda_memory_mb=int(_pick("memoryMb", index, *nested("lambda"))),
        lambda_timeout_seconds=int(_pick("timeoutSeconds", index, *nested("lambda"))),
        lambda_reserved_concurrency=int(_pick("reservedConcurrency", index, *nested("lambda"))),
        fargate_cpu=int(_pick("cpu", index, *nested("fargate"))),
        fargate_memory=int(_pick("memory", index, *nested("fargate"))),
        fargate_desired_count=int(_pick("desiredCount", index, *nested("fargate"))),
        thresholds=thresholds,
        payments_api_endpoint=str(top("paymentsApiEndpoint")),
    )
    check_settings(settings, region.name)
    return settings
