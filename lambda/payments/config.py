"""Function configuration: wiring from environment variables, behaviour from SSM Parameter Store.

Why the split: environment variables are visible to anyone who can read the function
configuration, so they carry only non-secret, deploy-time wiring (table name, queue URL, the SSM
path). Everything else -- including any secret, stored as a ``SecureString`` -- lives under the
region's SSM path and is read with ``GetParametersByPath(WithDecryption=True)``.

SSM reads are cached per container for ``CONFIG_TTL_SECONDS`` (default 60 s): a warm container
makes no SSM call per batch (SSM throttles at a few dozen TPS per account), yet a parameter change,
e.g. ``activeRegion`` during a failover drill, reaches every container within one TTL. If a
refresh fails while a previous value is cached, the stale value is served and the refresh is
retried on the next batch, so an SSM blip does not stop payment processing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

DEFAULT_TTL_SECONDS: Final = 60.0
DEFAULT_MAX_RECEIVE_COUNT: Final = 5

#: Environment variables the renderer must set (AWS_REGION is set by the Lambda runtime).
REQUIRED_ENV: Final = ("AWS_REGION", "LEDGER_TABLE", "DLQ_URL", "CONFIG_PATH")
#: Optional; METRICS_NAMESPACE / SERVICE_NAME / LOG_LEVEL also accept their POWERTOOLS_* spellings
#: (and LOG_LEVEL the runtime's AWS_LAMBDA_LOG_LEVEL).
OPTIONAL_ENV: Final = ("PAYMENTS_API_ENDPOINT", "CONFIG_TTL_SECONDS", "LOG_LEVEL", "METRICS_NAMESPACE", "SERVICE_NAME")


class ConfigError(RuntimeError):
    """The function is mis-deployed (missing/invalid env var or parameter); not an event problem."""


class SSMClient(Protocol):
    def get_parameters_by_path(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Settings:
    """Deploy-time wiring from environment variables; none of these are secrets."""

    region: str
    ledger_table: str
    dlq_url: str
    config_path: str
    payments_api_endpoint: str | None = None
    config_ttl_seconds: float = DEFAULT_TTL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        path = env["CONFIG_PATH"]
        if not path.startswith("/") or not path.endswith("/"):
            raise ConfigError("CONFIG_PATH must start and end with '/', e.g. /payments/prod/us-east-1/")
        try:
            ttl = float(env.get("CONFIG_TTL_SECONDS") or DEFAULT_TTL_SECONDS)
        except ValueError:
            raise ConfigError("CONFIG_TTL_SECONDS must be a number of seconds") from None
        if ttl < 0:
            raise ConfigError("CONFIG_TTL_SECONDS must not be negative")
        return cls(
            region=env["AWS_REGION"],
            ledger_table=env["LEDGER_TABLE"],
            dlq_url=env["DLQ_URL"],
            config_path=path,
            payments_api_endpoint=env.get("PAYMENTS_API_ENDPOINT") or None,
            config_ttl_seconds=ttl,
        )


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """Values read from SSM under ``CONFIG_PATH`` (names relative to it).

    ``maxReceiveCount``: must equal the queue's redrive ``maxReceiveCount``; on that receive a
    still-failing transient event is dead-lettered by the handler *with a reason* instead of being
    moved silently by SQS. ``activeRegion``: when set and different from this region the function
    refuses to book anything (split-brain guard for the active/standby switch). Every other
    parameter is kept in ``parameters`` (values hidden from ``repr`` -- they may be secrets).
    """

    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    active_region: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_parameters(cls, params: Mapping[str, str]) -> RuntimeConfig:
        raw = params.get("maxReceiveCount", str(DEFAULT_MAX_RECEIVE_COUNT))
        try:
            max_receive = int(raw)
        except ValueError:
            raise ConfigError("parameter maxReceiveCount must be an integer") from None
        if max_receive < 1:
            raise ConfigError("parameter maxReceiveCount must be >= 1")
        return cls(
            max_receive_count=max_receive,
            active_region=params.get("activeRegion") or None,
            parameters=dict(params),
        )


def read_parameters(ssm: SSMClient, path: str) -> dict[str, str]:
    """All parameters under ``path`` (recursive, decrypted), keyed by name relative to ``path``."""
    result: dict[str, str] = {}
    kwargs: dict[str, Any] = {"Path": path.rstrip("/") or "/", "Recursive": True, "WithDecryption": True}
    while True:
        page = ssm.get_parameters_by_path(**kwargs)
        for param in page.get("Parameters", []):
            name: str = param["Name"]
            result[name[len(path):] if name.startswith(path) else name] = param["Value"]
        token = page.get("NextToken")
        if not token:
            return result
        kwargs["NextToken"] = token


class ConfigCache:
    """Per-container TTL cache around :func:`read_parameters` (``clock`` is injectable for tests)."""

    def __init__(
        self, ssm: SSMClient, path: str, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ssm = ssm
        self._path = path
        self._ttl = ttl_seconds
        self._clock = clock
        self._value: RuntimeConfig | None = None
        self._loaded_at = 0.0

    def get(self) -> tuple[RuntimeConfig, bool]:
        """Return (config, stale); raise only when nothing was ever loaded."""
        now = self._clock()
        if self._value is not None and now - self._loaded_at < self._ttl:
            return self._value, False
        try:
            self._value = RuntimeConfig.from_parameters(read_parameters(self._ssm, self._path))
        except Exception:
            if self._value is None:
                raise
            return self._value, True
        self._loaded_at = now
        return self._value, False
