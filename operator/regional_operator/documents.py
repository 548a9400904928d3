"""Reading the CLI's inputs: YAML/JSON documents (Lists flattened) and the Lambda package when it is installed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from .artifact import LambdaArtifact, load_artifact


def load_documents(path: str) -> list[Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    docs: list[Any] = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List"):
            docs.extend(doc.get("items") or [])
        elif doc:
            docs.append(doc)
    return docs


def optional_artifact(skip: bool) -> LambdaArtifact | None:
    if skip:
        return None
    try:
        return load_artifact()
    except ImportError:  # the handler package is not installed next to the operator
        return None
