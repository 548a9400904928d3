# The two commands of the README. Both set up what they need first (idempotent, cached).
PY := .venv/bin/python

.PHONY: setup demo test test-provider lint bench render clean

setup:
	bash .ci/setup

demo: setup
	$(PY) -m hack.demo

lint: setup
	.venv/bin/ruff check operator lambda tests devtools hack bench
	.venv/bin/mypy

test: lint
	$(PY) -m pytest -q -m "not provider"

# The real-provider tier (tests/provider): provider-aws v2.5.0 built from source (cached; the cold build did not
# finish in 75 minutes on this shared 2-core machine), reconciling the example against moto on loopback.
# Not part of `make test`: cold, it does not fit CI's 90-minute budget (figures: docs/controlplane.md).
test-provider: setup
	bash devtools/controlplane/build_provider.sh >/dev/null
	$(PY) -m pytest -q -m provider tests/provider

render: setup
	.venv/bin/regional-operator render examples/two-region.yaml

bench: setup
	$(PY) -m bench.render_bench --write
	$(PY) -m bench.lambda_bench
	$(PY) -m bench.operator_bench --quick

clean:
	rm -rf .venv .mypy_cache .ruff_cache
