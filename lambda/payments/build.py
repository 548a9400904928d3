"""Deterministic deployment package for the payment processor.

``build_package()`` returns the zip bytes and their SHA-256; the operator's renderer puts the hex
digest in the S3 key (content-addressed: a new key exactly when the code changes) and can pass
:func:`source_code_hash` to Lambda/Crossplane, which want the base64 form.

Byte-identical output is guaranteed by: entries sorted by name; every timestamp 1980-01-01
00:00:00 (the zip epoch); permissions fixed to 0644 regular files (Unix host); no directory
entries, no comment, no extra fields; and ``ZIP_STORED`` -- deflate output may differ between zlib
builds (e.g. zlib vs zlib-ng) while stored data cannot, and the source is only ~50 KB.

Only the runtime modules are packaged: ``payments/*.py`` minus this build script. botocore comes
from the Lambda runtime and nothing else is imported, so there is no dependency directory.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import zipfile
from pathlib import Path
from typing import Final

PACKAGE_DIR: Final = Path(__file__).resolve().parent
HANDLER: Final = "payments.handler.lambda_handler"
RUNTIME: Final = "python3.11"
_EPOCH: Final = (1980, 1, 1, 0, 0, 0)
_MODE: Final = 0o100644  # regular file, rw-r--r--
_EXCLUDED: Final = frozenset({"build.py"})


def package_files(source_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The files that go into the zip, in archive order."""
    return sorted(
        (p for p in source_dir.glob("*.py") if p.name not in _EXCLUDED and p.is_file()),
        key=lambda p: p.name,
    )


def build_package(source_dir: Path | None = None) -> tuple[bytes, str]:
    """Zip the handler source deterministically; return ``(zip_bytes, sha256_hex)``."""
    root = source_dir if source_dir is not None else PACKAGE_DIR
    files = package_files(root)
    if not any(p.name == "handler.py" for p in files):
        raise FileNotFoundError(f"no handler.py in {root}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            info = zipfile.ZipInfo(f"payments/{path.name}", date_time=_EPOCH)
            info.create_system = 3  # Unix, so external_attr is read as a mode
            info.external_attr = _MODE << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def source_code_hash(sha256_hex: str) -> str:
    """Base64 of the SHA-256, the form Lambda reports as ``CodeSha256``."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the payment processor Lambda zip deterministically.")
    parser.add_argument("--out", type=Path, required=True, help="directory to write payments-<sha256>.zip into")
    args = parser.parse_args(argv)
    data, digest = build_package()
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"payments-{digest}.zip"
    target.write_bytes(data)
    sys.stdout.write(f"{digest}  {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
