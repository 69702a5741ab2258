#!/usr/bin/env bash
# Builds the worker image's two base images on this machine, with no image registry
# (issue #11): a minimal Debian made with debootstrap, plus Node.js from the npm registry.
#
#   ai-coding-worker-base:<suite>-node<version>        the runtime: Debian minbase with git,
#                                                      ca-certificates, tini, util-linux
#                                                      (setpriv), iptables (AGENT_NETWORK)
#                                                      and the node binary
#   ai-coding-worker-base:<suite>-node<version>-build  the same plus npm and this machine's
#                                                      own CA certificates, for `npm ci`
#                                                      inside `docker build`; never shipped
#
# Then:  docker build --build-arg BASE_IMAGE=<runtime> --build-arg BUILD_IMAGE=<build> .
#
# The last two lines on stdout are BASE_IMAGE=… and BUILD_IMAGE=…, so CI can
#   eval "$(docker/build-base-image.sh | tail -n 2)"
# An image that already exists is kept (pass --force to rebuild both), so running the
# script again costs a second. Runs as root, unattended; needs a running Docker engine,
# npm, and Debian's package mirror (debootstrap is installed with apt-get if missing).
#
# The tag ends in a hash of this script, so a changed recipe makes new images and an
# unchanged one reuses the old.
#
# Environment: SUITE (default: this machine's Debian suite), MIRROR, SECURITY_MIRROR,
# IMAGE (default ai-coding-worker-base), EXTRA_CA_DIR (default /usr/local/share/ca-certificates:
# the CAs this machine added, e.g. a TLS-intercepting egress proxy's, which npm inside the
# build must trust as npm on the host does), KEEP_PERL=true (see drop_perl).
set -euo pipefail

# Node.js and npm are pinned with their registry integrity, so two runs install the same bytes.
# node-linux-<arch> is the platform package behind the npm package `node`: only bin/node
# and headers, no npm, so npm comes from its own package (the version Node 22 bundles).
NODE_VERSION=22.23.5
declare -A NODE_INTEGRITY=(
  [x64]=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
  [arm64]=sha512-e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg==
)
NPM_VERSION=10.9.9
NPM_INTEGRITY=sha512-1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==

# util-linux (setpriv) and tar are Essential in Debian, so minbase has them; the check
# below makes sure. No bubblewrap: Codex ships its own bwrap (docs/codex-provider-notes.md).
# iptables: AGENT_NETWORK=proxy-only fences the agents in (with --cap-add NET_ADMIN).
PACKAGES=ca-certificates,git,tini,iptables

# shellcheck source=/dev/null
SUITE=${SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release; set SUITE}")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
IMAGE=${IMAGE:-ai-coding-worker-base}
EXTRA_CA_DIR=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
KEEP_PERL=${KEEP_PERL:-false}
RECIPE=$( { cat "${BASH_SOURCE[0]}"; echo "$MIRROR $SECURITY_MIRROR $KEEP_PERL"; } | sha256sum | cut -c1-8)
TAG=$SUITE-node$NODE_VERSION-$RECIPE
BASE=$IMAGE:$TAG
BUILD=$IMAGE:$TAG-build
FORCE=false
[[ ${1:-} == --force ]] && FORCE=true

log() { echo "build-base-image: $*" >&2; }
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

case $(dpkg --print-architecture) in
  amd64) NODE_ARCH=x64 ;;
  arm64) NODE_ARCH=arm64 ;;
  *) log "no Node.js pinned for $(dpkg --print-architecture)"; exit 1 ;;
esac

[[ $(id -u) == 0 ]] || { log 'debootstrap and chroot need root'; exit 1; }
docker info >/dev/null || { log 'no Docker engine answers'; exit 1; }

work=$(mktemp -d /tmp/ai-coding-worker-base.XXXXXX)
cleanup() {
  mountpoint -q "$work/rootfs/proc" && umount "$work/rootfs/proc"
  rm -rf "$work"
}
trap cleanup EXIT

# npm pack checks the tarball against the registry's integrity; the pin checks the registry.
fetch_npm_package() { # spec integrity → path of the tarball
  local json got
  json=$(cd "$work" && npm pack --json --silent "$1")
  got=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].integrity)' <<<"$json")
  [[ $got == "$2" ]] || { log "$1: integrity $got, expected $2"; exit 1; }
  node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename)' <<<"$json" | sed "s|^|$work/|"
}

# git depends on perl only for commands the worker and agents do not use (send-email, svn,
# cvs, archimport); perl-base (/usr/bin/perl with the core pragmas) stays. Leaving out the
# full perl, its modules and git's man pages saves ~50 MB of the ~700 MB the Claude-only
# image may take. dpkg is told (--force-depends), so a later `apt-get install` asks for
# `apt-get -f install`, which brings them back.
drop_perl() {
  local rootfs=$1 packages
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  packages=$(chroot "$rootfs" dpkg-query -W -f '${db:Status-Status} ${Package}\n' perl liberror-perl 'libperl5.*' \
    'perl-modules-5.*' libgdbm6 libgdbm-compat4 git-man 2>/dev/null | awk '$1 == "installed" { print $2 }')
  log "dropping ${packages//$'\n'/ }"
  # shellcheck disable=SC2086
  chroot "$rootfs" dpkg --purge --force-depends $packages >&2
  chroot "$rootfs" sh -ec 'cd /tmp && git init -q t && cd t && echo x >f && git add f \
    && git -c user.name=t -c user.email=t@t commit -qm t && git log --oneline | grep -q t \
    && perl -e "use strict; use warnings; print q()" && rm -rf /tmp/t'
}

build_runtime() {
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >&2
  command -v strip >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils >&2
  local rootfs=$work/rootfs
  log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >&2

  # Security and point-release updates, which debootstrap does not apply.
  {
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [[ $SUITE == sid || $SUITE == unstable ]] || echo "deb $SECURITY_MIRROR $SUITE-security main"
  } >"$rootfs/etc/apt/sources.list"
  # What the official Debian images do: no recommends, no docs, no apt caches in any layer,
  # also for apt-get run later in a Dockerfile on top of this image.
  cat >"$rootfs/etc/apt/apt.conf.d/docker" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
  mount -t proc proc "$rootfs/proc"
  log 'apt-get upgrade inside the rootfs'
  chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -qq && apt-get -y -qq dist-upgrade && apt-get clean' >&2
  umount "$rootfs/proc"
  $KEEP_PERL || drop_perl "$rootfs"
  for tool in git tini setpriv tar update-ca-certificates; do
    chroot "$rootfs" sh -c "command -v $tool" >/dev/null || { log "$tool missing from the rootfs"; exit 1; }
  done

  log "node $NODE_VERSION from the npm registry"
  local tgz
  tgz=$(fetch_npm_package "node-linux-$NODE_ARCH@$NODE_VERSION" "${NODE_INTEGRITY[$NODE_ARCH]}")
  tar -xzf "$tgz" -C "$rootfs/usr/local/bin" --strip-components=2 package/bin/node
  # The npm build carries debug info and a full symbol table (~18 MB); its ~90,000 exported
  # symbols stay, so a native stack trace still names most functions.
  strip "$rootfs/usr/local/bin/node"
  chown 0:0 "$rootfs/usr/local/bin/node"
  [[ $(chroot "$rootfs" /usr/local/bin/node -p process.versions.node) == "$NODE_VERSION" ]]

  # Files that differ between two runs for no reason, and what only a booted system uses.
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
    "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.npm
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/machine-id"
  rm -f "$rootfs/etc/hostname"

  log "docker import → $BASE"
  tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' \
    --message "debootstrap --variant=minbase $SUITE + $PACKAGES, node $NODE_VERSION" \
    - "$BASE" >&2
}

build_build() {
  local ctx=$work/build-context tgz
  mkdir -p "$ctx/ca"
  log "npm $NPM_VERSION and the CAs in $EXTRA_CA_DIR → $BUILD"
  tgz=$(fetch_npm_package "npm@$NPM_VERSION" "$NPM_INTEGRITY")
  mkdir -p "$ctx/npm" && tar -xzf "$tgz" -C "$ctx/npm" --strip-components=1
  if [[ -d $EXTRA_CA_DIR ]]; then find "$EXTRA_CA_DIR" -maxdepth 1 -name '*.crt' -exec cp {} "$ctx/ca/" \; ; fi
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
COPY npm /usr/local/lib/node_modules/npm
COPY ca/ /usr/local/share/ca-certificates/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
  && update-ca-certificates >/dev/null && npm --version
# Node reads its own CA list, not the system's: npm trusts the system's CAs this way.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \\
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
EOF
  docker build -q -t "$BUILD" "$ctx" >&2
}

if $FORCE || ! image_exists "$BASE"; then
  build_runtime
  build_build
elif ! image_exists "$BUILD"; then
  build_build
else
  log "$BASE and $BUILD exist (--force rebuilds them)"
fi

echo "BASE_IMAGE=$BASE"
echo "BUILD_IMAGE=$BUILD"
