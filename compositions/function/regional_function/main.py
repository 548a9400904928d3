"""`function-regional-deployment`: serve the function (Crossplane's standard function flags: --address,
--insecure, --tls-certs-dir, --debug)."""

from __future__ import annotations

from typing import Any

import click
from crossplane.function import cli as sdkcli
from regional_operator.artifact import LambdaArtifact, load_artifact
from regional_operator.defaults_store import DefaultsStore

from .fn import FunctionRunner


def _artifact() -> LambdaArtifact | None:
    """The payments Lambda package, built in-process exactly as the operator builds it (the image ships the
    handler package); without it the Lambda code object and function stay pending, as in the operator."""
    try:
        return load_artifact()
    except ImportError:
        return None


@click.command()
@sdkcli.standard_options
def cli(**kwargs: Any) -> None:
    sdkcli.run(FunctionRunner(DefaultsStore(), _artifact()), **kwargs)


if __name__ == "__main__":
    cli()
