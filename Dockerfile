# Container image of Docker Registry Manager: gunicorn serving the app, data in /data.
# Build: docker build -t docker-registry-manager .   (see docs/operations.md, "The container").
# BASE_IMAGE: any image with Python 3.11 and pip; where Docker Hub is out of reach, a
# stand-in made by scripts/container-base.sh (then also `--network host`, see docs/operations.md).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REGISTRY_DATA_DIR=/data \
    REGISTRY_BIND=0.0.0.0:5000

RUN useradd --system --home-dir /app --shell /usr/sbin/nologin registry
WORKDIR /app
# Runtime requirements only: the test tools are in requirements-dev.txt, not in the image.
COPY requirements.txt .
# python-ldap (directory sign-in) has no wheel on PyPI: it is built against OpenLDAP's and
# SASL's headers, which go again afterwards. The libraries the built modules link to are kept
# (found with ldd, as the official python images do), whatever Debian release names them.
# Python's headers come with python:3.11-slim; the stand-in base of scripts/container-base.sh
# uses Debian's python3, whose headers are in python3-dev.
RUN build="gcc libc6-dev libldap2-dev libsasl2-dev" \
    && if [ ! -e "$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then \
         build="$build python3-dev"; fi \
    && saved="$(apt-mark showmanual)" \
    && apt-get update \
    && apt-get install -y --no-install-recommends $build \
    && python -m pip install --no-cache-dir -r requirements.txt \
    && apt-mark auto '.*' >/dev/null \
    && { [ -z "$saved" ] || apt-mark manual $saved >/dev/null; } \
    && find /usr/local -type f -name '*.so' -exec ldd '{}' ';' \
       | awk '/=>/ { so = $(NF-1); if (index(so, "/usr/local/") == 1) next; gsub("^/(usr/)?", "", so); print "*" so }' \
       | sort -u | xargs -r dpkg-query --search | cut -d: -f1 | sort -u | xargs -r apt-mark manual >/dev/null \
    && apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false \
    && rm -rf /var/lib/apt/lists/*
# .dockerignore lets in only the application (no tests, data, secrets or virtualenv).
COPY . .
RUN mkdir -p /data && chown registry:registry /data

USER registry
VOLUME ["/data"]
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz')"
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn -c deploy/gunicorn.conf.py registry_project.wsgi:application"]
