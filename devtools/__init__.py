"""Development tools of regional-operator, never shipped (the image copies only `operator/` and `lambda/`):
the real control plane for tests (`controlplane`: etcd + kube-apiserver + kube-controller-manager built from Go
modules), the test-only provider simulator (`simulator`), process helpers for running the operator and the
simulator (`processes`), and the stand-ins the benchmarks share with the tests (`stand_in`).

Why a package of its own rather than `tests/`: `hack/demo.py` and `bench/` start the same control plane and
simulator the tests do; they import them from here instead of reaching into the test suite.
"""
