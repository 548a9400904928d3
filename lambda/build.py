"""``python lambda/build.py --out DIR``: write the deterministic payments zip and print its sha256.

Thin entry point; the logic (and ``build_package()`` for the renderer) is in ``payments/build.py``.
Running this file puts ``lambda/`` first on ``sys.path``, so ``payments`` resolves to the sibling
package without installing anything.
"""

from payments.build import main

if __name__ == "__main__":
    raise SystemExit(main())
