"""The payments Lambda package as a renderer input: its bytes (base64) and sha256.

The renderer stays pure: the operator (or the CLI) builds the deterministic zip once at start-up and passes it
in; the renderer only puts the hash in the S3 key, so a code change rolls out and an unchanged one does not.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class LambdaArtifact:
    sha256: str
    content_base64: str

    @property
    def key(self) -> str:
        return f"payments-processor/{self.sha256}.zip"

    @property
    def source_code_hash(self) -> str:
        """Lambda's CodeSha256 form (base64 of the raw digest), so the provider sees a code change."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


@functools.cache
def load_artifact() -> LambdaArtifact:
    """Build the handler package from the installed `payments` package (lambda/payments in the repository)."""
    # imported here: the handler package is optional (the CLI renders without it)
    from payments.build import build_package  # noqa: PLC0415

    content, digest = build_package()
    return LambdaArtifact(sha256=digest, content_base64=base64.b64encode(content).decode())
