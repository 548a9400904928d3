"""The deployment zip is byte-identical across builds and changes exactly when the source does."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from conftest import LAMBDA_DIR
from payments.build import PACKAGE_DIR, build_package, package_files, source_code_hash


def test_two_builds_are_byte_identical() -> None:
    first, digest = build_package()
    second, digest2 = build_package()
    assert first == second and digest == digest2
    assert digest == hashlib.sha256(first).hexdigest()


def test_zip_contents_are_normalised() -> None:
    data, _ = build_package()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert "payments/handler.py" in names and "payments/__init__.py" in names
        assert "payments/build.py" not in names                 # build tooling is not deployed
        assert not any("__pycache__" in n or n.endswith(".pyc") or n.endswith("/") for n in names)
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.compress_type == zipfile.ZIP_STORED
            assert info.extra == b"" and info.comment == b""
            assert archive.read(info) == (PACKAGE_DIR / Path(info.filename).name).read_bytes()


def test_mtime_permissions_and_pycache_do_not_matter(tmp_path: Path) -> None:
    src = tmp_path / "payments"
    shutil.copytree(PACKAGE_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
    _, reference = build_package(src)
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    (src / "notes.txt").write_text("not python")
    for path in src.glob("*.py"):
        path.chmod(0o600)
        os.utime(path, (time.time() + 3600, time.time() + 3600))
    assert build_package(src)[1] == reference


def test_source_change_changes_the_hash(tmp_path: Path) -> None:
    src = tmp_path / "payments"
    shutil.copytree(PACKAGE_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
    _, before = build_package(src)
    handler = src / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    _, after = build_package(src)
    assert after != before
    (src / "extra.py").write_text("X = 1\n")
    assert build_package(src)[1] not in (before, after)


def test_package_files_excludes_build_script() -> None:
    assert [p.name for p in package_files()] == sorted(p.name for p in package_files())
    assert "build.py" not in {p.name for p in package_files()}


def test_cli_writes_zip_and_prints_sha256(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(LAMBDA_DIR / "build.py"), "--out", str(tmp_path)],
                         check=True, capture_output=True, text=True).stdout
    digest, path = out.split()
    assert Path(path).read_bytes() == build_package()[0]
    assert digest == build_package()[1] and Path(path).name == f"payments-{digest}.zip"


def test_source_code_hash_is_base64_sha256() -> None:
    data, digest = build_package()
    assert base64.b64decode(source_code_hash(digest)) == hashlib.sha256(data).digest()


def test_packaged_handler_imports_from_the_zip(tmp_path: Path) -> None:
    """The zip alone (plus the runtime's boto3) is a working deployment: import the handler from it."""
    data, _ = build_package()
    (tmp_path / "fn.zip").write_bytes(data)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import payments.handler as h; "
            "assert h.__file__.startswith(sys.argv[1]); print(h.lambda_handler.__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "fn.zip")], check=True,
                         capture_output=True, text=True, cwd=tmp_path).stdout
    assert out.strip() == "lambda_handler"
