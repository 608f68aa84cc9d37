#!/usr/bin/env bash
# Builds the local images the residency-scheduler example runs on a machine that cannot reach a
# registry, from Debian's own packages:
#
#   stackr-offline/bookworm:latest   debootstrap of Debian bookworm with every package below
#   stackr-offline/postgres:15       PostgreSQL 15, with the official image's entrypoint contract
#   stackr-offline/redis:7           Redis 7 with redis-cli
#   stackr-offline/python:3.11       Python 3.11 with FastAPI, uvicorn, SQLAlchemy, asyncpg, redis
#   stackr-offline/nginx:1.22        nginx, configured from /etc/nginx/conf.d like the official one
#
# The Debian mirror is the one this machine's apt sources name (override: DEBIAN_MIRROR=URL).
# An image that exists and was built from the same inputs is skipped; --force rebuilds all.
# Needs root (debootstrap) and a Docker engine. Usage: build-images.sh [--force] [--check]
#   --check   only says whether every image is present and up to date (exit 0) or not (exit 1)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=bookworm
packages=(
    postgresql-15 postgresql-client-15
    redis-server redis-tools
    nginx-light
    python3 python3-fastapi python3-uvicorn python3-sqlalchemy python3-asyncpg python3-redis
    ca-certificates tini
)
# Bump when the way the base is made changes, so that images made the old way are rebuilt.
base_recipe=2
label=org.stackr.offline.inputs
prefix=${STACKR_OFFLINE_PREFIX:-stackr-offline}
force=0
check_only=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --check) check_only=1 ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-images: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

say() { printf 'build-images: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers (is dockerd running, and may this user use it?)"

# The inputs of an image, as one digest: what it is made from and of.
digest_of() { sha256sum | cut -c1-16; }
base_inputs=$(printf '%s\n' "$suite" "$base_recipe" "${packages[@]}" | digest_of)
dir_inputs() { # DIR BASE_DIGEST
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; echo "$2") | digest_of
}

# The digest an existing image was built from, or nothing.
built_from() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
up_to_date() { [ "$force" = 0 ] && [ "$(built_from "$1")" = "$2" ]; }

# The first Debian (non-security) mirror the machine's apt sources name.
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        # deb822: stanzas separated by blank lines; take URIs of a stanza whose Suites are not -security
        uri=$(awk 'BEGIN { RS=""; FS="\n" }
            { uris=""; suites=""; types="";
              for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/) { uris=$i; sub(/^URIs:[ \t]*/, "", uris) }
                if ($i ~ /^Suites:/) { suites=$i }
                if ($i ~ /^Types:/) { types=$i }
              }
              if (types ~ /[ \t]deb([ \t]|$)/ && suites !~ /-security/ && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
            }' "$f")
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) !~ /-security/) { print $i; exit } else next } }' "$f")
        if [ -n "$uri" ]; then echo "$uri"; return; fi
    done
    return 1
}

build_base() {
    local image="$prefix/bookworm:latest"
    if up_to_date "$image" "$base_inputs"; then
        say "$image is up to date (inputs $base_inputs)"
        return
    fi
    [ "$check_only" = 1 ] && { say "$image is missing or out of date"; exit 1; }
    [ "$(id -u)" = 0 ] || die "debootstrap needs root: run this script as root (or with sudo)"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    local mirror
    mirror=$(debian_mirror) || die "no Debian mirror found in /etc/apt/sources.list*; set DEBIAN_MIRROR=URL"
    local root
    root=$(mktemp -d "${TMPDIR:-/tmp}/stackr-offline-rootfs.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$root'" EXIT
    local keyring=()
    [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] \
        && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    say "debootstrap $suite from $mirror into $root (about 75 s and 730 MB)"
    local started=$SECONDS
    local include
    include=$(IFS=,; echo "${packages[*]}")
    if ! debootstrap --variant=minbase "${keyring[@]}" --include="$include" "$suite" "$root" "$mirror" \
        >"$root.log" 2>&1; then
        tail -30 "$root.log" >&2
        rm -f "$root.log"
        die "debootstrap failed (its log is above)"
    fi
    rm -f "$root.log"
    say "debootstrap took $((SECONDS - started)) s; trimming"
    # What an image does not need: downloaded packages, apt lists, docs, the cluster the
    # postgresql package made at install (the postgres image makes its own in its volume).
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
        "$root"/var/lib/postgresql/15/main "$root"/etc/postgresql/15/main \
        "$root"/etc/nginx/sites-enabled/default "$root"/var/log/*.log
    say "importing $image"
    started=$SECONDS
    tar --numeric-owner -C "$root" -c . | docker import \
        --change "LABEL $label=$base_inputs" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["bash"]' \
        - "$image" >/dev/null
    say "import took $((SECONDS - started)) s"
    rm -rf "$root"
    trap - EXIT
}

build_on_base() { # NAME TAG
    local name=$1 tag=$2 image="$prefix/$1:$2"
    local inputs
    inputs=$(dir_inputs "$here/$name" "$base_inputs")
    if up_to_date "$image" "$inputs"; then
        say "$image is up to date (inputs $inputs)"
        return
    fi
    [ "$check_only" = 1 ] && { say "$image is missing or out of date"; exit 1; }
    say "building $image from $here/$name"
    local out
    # The engine's own builder (BuildKit may not be installed); its output only on failure.
    if ! out=$(DOCKER_BUILDKIT=0 docker build --build-arg "BASE=$prefix/bookworm:latest" \
        --label "$label=$inputs" -t "$image" "$here/$name" 2>&1); then
        printf '%s\n' "$out" | tail -30 >&2
        die "building $image failed (its output is above)"
    fi
}

build_base
build_on_base postgres 15
build_on_base redis 7
build_on_base python 3.11
build_on_base nginx 1.22
say "ready: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$prefix/*" | sort | paste -sd, - | sed 's/,/, /g')"
