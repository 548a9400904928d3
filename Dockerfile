# syntax=docker/dockerfile:1
# regional-operator: the kopf operator (regional_operator) and the payments Lambda package it ships to S3.
#
#   docker build -t regional-operator:0.1.0 .
#   docker run --rm --read-only --tmpfs /tmp -v ~/.kube/config:/kubeconfig:ro -e KUBECONFIG=/kubeconfig \
#     regional-operator:0.1.0 --namespace payments
#
# tests/cluster/test_image_contents.py proves what this file builds without Docker: it installs the same lock file and
# the same source tree into a clean venv, then runs this ENTRYPOINT (parsed from here) on a read-only root
# filesystem against a real API server until the two-region example is Ready.

# The python:3.11.14-slim-bookworm multi-architecture index digest (as pinned by public projects); refresh both
# tag and digest together: docker buildx imagetools inspect python:3.11.14-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# --- build: a self-contained venv with the locked runtime dependencies and the project itself ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first (their own layer, rebuilt only when the lock changes). The lock is complete and
# pinned (uv pip compile) but carries no hashes, so --no-deps guarantees nothing outside it is installed.
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-deps -r requirements/runtime.lock
# The project: metadata plus both packages (regional_operator, and payments whose zip the operator builds).
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY lambda/ lambda/
RUN pip install --no-deps . \
    && pip check \
    && python -c "import regional_operator.handlers, payments.build"

# --- runtime: the venv on a slim base, a numeric non-root user, nothing writable needed --------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="regional-operator" \
      org.opencontainers.image.description="Renders RegionalDeployment objects into Crossplane v2 AWS managed resources (kopf operator)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="regional.io platform team" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"
# A passwd entry for uid 10001: kopf derives its peer identity from the user name (getpass.getuser()), which
# fails for a uid without one when POD_ID is not set.
RUN groupadd --system --gid 10001 operator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin operator
COPY --from=build /opt/venv /opt/venv
# Read-only root filesystem: no .pyc files written at run time; logs unbuffered; /tmp is the only writable
# path (an emptyDir in the Helm chart) and nothing in the operator needs it.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
WORKDIR /opt/venv
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["kopf", "run", "--standalone", "-m", "regional_operator.handlers", "--liveness=http://0.0.0.0:8080/healthz"]
CMD ["--all-namespaces"]
