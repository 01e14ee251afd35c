# FLEAD shared base image: everything the four component images have in common.
# scripts/images.sh (`make images`) builds it twice from the repository root, once per
# dependency set, then builds each component's Dockerfile FROM it:
#   docker build -f deploy/docker/base.Dockerfile --build-arg EXTRAS=services -t flead-base-services:dev .
#   docker build -f deploy/docker/base.Dockerfile --build-arg EXTRAS=operator -t flead-base-operator:dev .
# The result runs as UID 10001 and works with a read-only root filesystem: bytecode is
# compiled at build time, nothing is written at run time except under /tmp (an emptyDir in
# the chart). PYTHON_IMAGE may be any Debian-based Python 3.11 with `python` on PATH
# (scripts/images.sh builds one from Debian packages where no registry is reachable).
ARG PYTHON_IMAGE=docker.io/library/python:3.11.14-slim-bookworm

# The pinned dependencies, in a layer that changes only with pyproject.toml.
FROM ${PYTHON_IMAGE} AS deps
# EXTRAS -- the pyproject extra whose pins the venv gets: services or operator
ARG EXTRAS=services
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
# requirements.py prints pyproject.toml's pins and fails on any unpinned requirement.
# flead-project.pth puts the project's own install (next stage, /opt/project) on sys.path.
COPY pyproject.toml deploy/docker/requirements.py ./
RUN python requirements.py pyproject.toml ${EXTRAS} > requirements.txt \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install pip==25.3 \
 && /opt/venv/bin/pip install -r requirements.txt \
 && /opt/venv/bin/python -m compileall -q /opt/venv \
 && /opt/venv/bin/python -c "import sysconfig as s; open(s.get_path('purelib') + '/flead-project.pth', 'w').write(s.get_path('purelib', vars={'base': '/opt/project', 'platbase': '/opt/project'}) + '\n')"

# The project itself (the `flead` command and package data), without dependencies, under
# /opt/project: a source change rebuilds this small layer, not the venv.
FROM deps AS project
COPY README.md ./
COPY src/ src/
COPY operator/ operator/
COPY services/ services/
RUN /opt/venv/bin/pip install --no-deps --prefix /opt/project . \
 && /opt/venv/bin/python -m compileall -q /opt/project

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/venv/bin:/opt/project/bin:$PATH \
    PYTHONPATH=/app/src \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    HOME=/tmp \
    USER=flead \
    FLEAD_LOG_FORMAT=json
COPY --from=deps /opt/venv /opt/venv
COPY --from=project /opt/project /opt/project
# UID 10001 has no passwd entry (containerd and Docker add none): USER names it for
# getpass.getuser(), which kopf calls for its identity when POD_ID is not set.
# Sources under /app shadow the installed copy (PYTHONPATH) and belong to the runtime
# user, so `skaffold dev -p dev` can sync edited files into them.
COPY --chown=10001:10001 src/flead /app/src/flead
RUN python -m compileall -q /app
WORKDIR /app
USER 10001:10001
