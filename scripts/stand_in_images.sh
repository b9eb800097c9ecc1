#!/bin/sh
# The images docker-compose.yml needs, on a machine with Docker but no image registry.
#
#   sudo scripts/stand_in_images.sh        # from the repository root; root for debootstrap
#
# For each image (the exporter Dockerfile's FROM, then every `image:` of docker-compose.yml): kept
# when Docker already has the real one, else pulled (a pulled image replaces a stand-in), else built
# as a stand-in from this machine's Debian packages and tagged with the real image's name, so that
# `docker compose up` runs unchanged:
#
#   python:*-slim-*     Debian's python3 (this machine's release, by debootstrap) with a virtual
#                       environment first on PATH (python, pip); the CA bundle is this machine's, so
#                       pip reaches PyPI the way this machine does (a TLS-inspecting proxy included)
#   prom/prometheus     Debian's prometheus binary, laid out like the real image (USER nobody)
#   prom/alertmanager   Debian's prometheus-alertmanager and amtool binaries, likewise
#   grafana/grafana     no Debian package: left out (docker compose up prometheus alertmanager
#                       exporter starts the rest)
#
# A stand-in carries the label org.training-exporter.stand-in (what it is built from) and is
# rebuilt only when that changes (a new Debian package, a new recipe). It is not the real image:
# Debian's versions are older (prometheus 2.42, alertmanager 0.25 in bookworm). Needs: docker,
# debootstrap, prometheus and prometheus-alertmanager (apt-get install docker.io debootstrap
# prometheus prometheus-alertmanager). One line per image on stdout; exit 1 when one is missing.
set -eu
cd "$(dirname "$0")/.."

LABEL=org.training-exporter.stand-in
RECIPE=2
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
missing=0

say() { printf '%s: %s\n' "$1" "$2"; }

# the label an image has, or nothing
label_of() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

package_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null; }

debian_rootfs() {
    # A minimal Debian of this machine's release, imported once; the stand-ins build on it.
    rootfs_image="training-exporter/stand-in-debian:$SUITE"
    docker image inspect "$rootfs_image" >/dev/null 2>&1 && return 0
    command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; return 1; }
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 20 "$WORK/debootstrap.log" >&2; return 1; }
    rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
    tar -C "$WORK/rootfs" -c . | docker import -m "debootstrap --variant=minbase $SUITE" - "$rootfs_image" >/dev/null
    rm -rf "$WORK/rootfs"
}

build() {  # image, stand-in label; the context is in $WORK/context
    printf 'LABEL %s="%s"\n' "$LABEL" "$2" >>"$WORK/context/Dockerfile"
    docker build -q -t "$1" "$WORK/context" >/dev/null 2>"$WORK/build.log" || { cat "$WORK/build.log" >&2; return 1; }
}

python_base() {  # image
    python=$(package_version python3)
    certificates=$(cksum </etc/ssl/certs/ca-certificates.crt | cut -d ' ' -f 1)
    ensure "$1" "recipe $RECIPE: Debian $SUITE python3 $python in a virtual environment, CA bundle $certificates" \
        "Debian $SUITE python3 $python (debootstrap)" python_context
}

python_context() {
    cp /etc/ssl/certs/ca-certificates.crt "$WORK/context/"
    cat >"$WORK/context/Dockerfile" <<EOF
FROM training-exporter/stand-in-debian:$SUITE
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/python \\
    && printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' > /etc/pip.conf
ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8
CMD ["python3"]
EOF
}

prom_image() {  # image, name (/bin/NAME is the entrypoint), Debian package, port, data directory, paths
    image=$1 name=$2 package=$3 port=$4 data=$5
    shift 5
    paths=$*
    version=$(package_version "$package")
    if [ -n "$version" ]; then
        ensure "$image" "recipe $RECIPE: Debian $package $version" "Debian $package $version" prom_context
    else
        ensure "$image" "" "no registry, and $package is not installed (apt-get install $package)"
    fi
}

prom_context() {
    mkdir -p "$WORK/context/root"
    # the package's own files, where the package puts them (Debian's alertmanager reads its default
    # template from /usr/share/prometheus/alertmanager)
    # shellcheck disable=SC2086 # the paths, one word each
    tar -C / -ch $paths | tar -C "$WORK/context/root" -x || return 1
    mkdir -p "$WORK/context/root$data" || return 1
    binary=${paths%% *}
    [ "$binary" = "usr/bin/$name" ] || ln -s "/$binary" "$WORK/context/root/usr/bin/$name" || return 1
    cat >"$WORK/context/Dockerfile" <<EOF
FROM training-exporter/stand-in-debian:$SUITE
COPY root/ /
RUN chown nobody:nogroup $data
USER nobody
WORKDIR $data
EXPOSE $port
VOLUME ["$data"]
ENTRYPOINT ["/bin/$name"]
EOF
}

ensure() {  # image, wanted stand-in label (empty: none can be built here), what it is built from
            # (or why not), the function that writes its build context
    if docker image inspect "$1" >/dev/null 2>&1 && [ -z "$(label_of "$1")" ]; then
        say "$1" "real image, already here"
    elif pull "$1"; then
        say "$1" "real image, pulled"
    elif [ -z "$2" ]; then
        say "$1" "MISSING: $3"
        missing=1
    elif [ "$(label_of "$1")" = "$2" ]; then
        say "$1" "stand-in ($3), already built"
    else
        started=$(date +%s)
        rm -rf "$WORK/context" && mkdir -p "$WORK/context"
        if debian_rootfs && "$4" && build "$1" "$2"; then
            say "$1" "stand-in ($3), built in $(( $(date +%s) - started )) s"
        else
            say "$1" "MISSING: its stand-in failed to build (above)"
            missing=1
        fi
    fi
}

# the real image from the registry, which replaces a stand-in of that name; false without a registry
pull() { timeout 120 docker pull -q "$1" >/dev/null 2>&1; }

[ -n "$SUITE" ] || { echo "not a Debian-like system (/etc/os-release has no VERSION_CODENAME)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "the Docker daemon is not reachable (docker info)" >&2; exit 1; }

python_base "$(sed -n 's/^FROM //p' exporter/Dockerfile | head -n 1)"
for image in $(sed -n 's/^ *image: *//p' docker-compose.yml); do
    case $image in
        prom/prometheus:*)
            prom_image "$image" prometheus prometheus 9090 /prometheus usr/bin/prometheus usr/bin/promtool ;;
        prom/alertmanager:*)
            prom_image "$image" alertmanager prometheus-alertmanager 9093 /alertmanager \
                usr/bin/prometheus-alertmanager usr/bin/amtool usr/share/prometheus/alertmanager ;;
        training-exporter:*) ;;  # built from exporter/Dockerfile by docker compose
        *)
            if docker image inspect "$image" >/dev/null 2>&1; then say "$image" "real image, already here"
            elif pull "$image"; then say "$image" "real image, pulled"
            else say "$image" "not available (no registry, no stand-in): left out"
            fi ;;
    esac
done
exit "$missing"
