# The two commands of the README. Both set up what they need first (idempotent, cached).
PY := .venv/bin/python

.PHONY: setup demo test lint bench render clean

setup:
	bash .ci/setup

demo: setup
	$(PY) -m hack.demo

lint: setup
	.venv/bin/ruff check operator lambda tests hack bench
	.venv/bin/mypy

test: lint
	$(PY) -m pytest -q

render: setup
	.venv/bin/regional-operator render examples/two-region.yaml

bench: setup
	$(PY) -m bench.render_bench --write
	$(PY) -m bench.lambda_bench
	$(PY) -m bench.operator_bench --quick

clean:
	rm -rf .venv .mypy_cache .ruff_cache
