#!/bin/sh
# A stand-in for the python:3.11-slim base image, for docker engines that cannot pull from
# Docker Hub: Debian bookworm (its python3 is 3.11) with pip, made by debootstrap from the
# Debian mirror, plus this host's extra CA certificates so that pip inside `docker build`
# trusts a TLS-intercepting proxy. docs/operations.md, "The container", says when and how to use it.
#
#   sudo scripts/container-base.sh [TAG] [CACHE_DIR]
#   docker build --network host --build-arg BASE_IMAGE=TAG -t docker-registry-manager .
#
# TAG defaults to docker-registry-manager-base:bookworm. The root filesystem is made once
# and kept as a tarball in CACHE_DIR (default /var/tmp/docker-registry-manager-base); later
# runs only `docker import` it (DOCKER_HOST chooses the engine, as for docker itself).
set -eu

tag=${1:-docker-registry-manager-base:bookworm}
cache=${2:-/var/tmp/docker-registry-manager-base}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tarball="$cache/bookworm-python3.tar"

mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
    rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,python3-pip,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$mirror"
    if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    fi
    chroot "$rootfs" update-ca-certificates >/dev/null
    # An image's Python is its own: pip may install into it (PEP 668 marker removed), as in
    # python:3.11-slim, where `pip install -r requirements.txt` needs no virtualenv.
    rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
    # mktemp made it 0700, and "." becomes the image's "/": users other than root (the
    # image's `registry`) could then reach nothing, not even /bin/sh.
    chmod 0755 "$rootfs"
    tar -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
fi

docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    "$tarball" "$tag" >/dev/null
echo "$tag"
