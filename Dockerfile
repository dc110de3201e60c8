# leakguard's own image. Build it with scripts/build-image, which first makes
# wheels of leakguard and every dependency on the host (build/image/wheels), so
# that nothing here reaches a Python package index.
#
# BASE is any Debian-based image with python3 (and apt); its Python must be the
# one the wheels were made for (scripts/build-image asks the base which it is).
ARG BASE=python:3.11-slim

# --- leakguard and its dependencies, in a virtual environment ---------------------
FROM ${BASE} AS install
COPY build/image/wheels/ /wheels/
# pip runs from its own wheel, so neither the base nor the result needs pip
# (Debian's python3 has none); the venv holds only what leakguard needs.
RUN set -eu; \
    python3 -m venv --without-pip /opt/leakguard; \
    set -- /wheels/pip-*.whl; \
    /opt/leakguard/bin/python "$1/pip" install --quiet --no-index --find-links /wheels \
        --no-cache-dir --disable-pip-version-check --no-warn-script-location leakguard; \
    /opt/leakguard/bin/leakguard --version

# --- the Docker command-line client, without the engine ---------------------------
# Debian ships the client in docker-cli where that package exists, else inside
# docker.io (with the engine, containerd and runc): only /usr/bin/docker is kept.
FROM ${BASE} AS docker-cli
WORKDIR /tmp/docker-cli
RUN set -eu; \
    apt-get update -qq; \
    apt-get download docker-cli 2>/dev/null || apt-get download docker.io; \
    dpkg-deb --fsys-tarfile ./*.deb | tar -x ./usr/bin/docker; \
    ./usr/bin/docker --version

# --- the runtime: Python, git, the Docker client and leakguard, run as uid 10001 -----
FROM ${BASE}
ARG VERSION=""
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="leakguard" \
      org.opencontainers.image.description="Find credentials leaked into container builds, and move them where they belong." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"

# git for `leakguard git` and the hooks, without the packages it only recommends
# (CA certificates come with the base: the official Python images have them). A
# mounted repository belongs to another uid than the container's user, so git
# is told to trust every directory.
RUN set -eu; \
    if ! command -v git >/dev/null; then \
        apt-get update -qq; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            git >/dev/null; \
        apt-get clean; \
        rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log; \
    fi; \
    git config --system --add safe.directory '*'; \
    useradd --uid 10001 --user-group --create-home --home-dir /home/leakguard \
        --shell /usr/sbin/nologin leakguard

COPY --from=docker-cli /tmp/docker-cli/usr/bin/docker /usr/local/bin/docker
COPY --from=install /opt/leakguard /opt/leakguard

ENV PATH=/opt/leakguard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /src
ENTRYPOINT ["leakguard"]
CMD ["--help"]
