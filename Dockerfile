# syntax=docker/dockerfile:1
# sluice: one image for the controller, the bundled proxy and the load tester (`sluice <command>`).
#
# Multi-stage so the runtime image has no compiler, no pip cache and no build tree: the builder installs the
# project and its dependencies into a virtualenv at /opt/sluice and compiles the bytecode (the root filesystem
# is read-only at run time, so nothing can be written next to the sources); the runtime stage copies only that
# virtualenv onto a slim Python and runs as an unprivileged user with a fixed numeric UID, which Kubernetes'
# runAsNonRoot can verify.
#
#   docker build -t sluice .                      # controller (the default target, last stage)
#   docker build --target proxy -t sluice-proxy .
#   docker build --target loadtester -t sluice-loadtester .

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers only here: setup.py compiles the proxy's hot path with Cython, and any dependency without a wheel
# for this platform builds here too (uvloop, httptools have wheels).
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/sluice
WORKDIR /src
# Dependencies first, so a source change does not reinstall them (layer cache).
COPY pyproject.toml README.md ./
RUN mkdir -p controller analysis mesh templates \
 && touch controller/__init__.py analysis/__init__.py mesh/__init__.py templates/__init__.py \
 && /opt/sluice/bin/pip install . \
 && /opt/sluice/bin/pip uninstall -y sluice
COPY controller ./controller
COPY analysis ./analysis
COPY mesh ./mesh
COPY templates ./templates
COPY setup.py ./
RUN /opt/sluice/bin/pip install --no-deps . \
 && /opt/sluice/bin/python -m compileall -q /opt/sluice/lib \
 && /opt/sluice/bin/sluice --version \
 && /opt/sluice/bin/python -c "from mesh.proxy.build import describe; assert describe()[0] == 'compiled'"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="sluice" \
      org.opencontainers.image.description="Progressive delivery: canary, A/B and blue/green with its own proxy" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 65532 sluice \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin sluice
COPY --from=builder /opt/sluice /opt/sluice
ENV PATH=/opt/sluice/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
USER 65532:65532
ENTRYPOINT ["sluice"]

FROM runtime AS loadtester
EXPOSE 9090
CMD ["loadtester", "--host", "0.0.0.0", "--port", "9090"]

FROM runtime AS proxy
EXPOSE 8000 9901
# The config comes from a mounted ConfigMap; the admin API listens on the pod IP for the control plane.
CMD ["proxy", "--config", "/etc/sluice/proxy.yaml", "--admin-address", "0.0.0.0", "--admin-port", "9901"]

FROM runtime AS controller
EXPOSE 8080
CMD ["controller", "--host", "0.0.0.0", "--port", "8080"]
