#!/usr/bin/env bash
# Builds local stand-ins for the images the Pulumi program declares, without pulling any image:
#   smqtt-standin/mosquitto:2.0      for eclipse-mosquitto:2.0.20   (the host's mosquitto + busybox)
#   smqtt-standin/node:20-bookworm   for node:20.19-bookworm-slim   (debootstrap bookworm + the host's node/npm)
# Idempotent: an image is rebuilt only when missing or when its recipe (this script, host binary
# versions) changed. Needs root, docker, debootstrap, /usr/sbin/mosquitto (package mosquitto),
# node/npm and busybox (busybox-static; fetched with `apt-get download` when not installed).
#
# Usage: e2e-images/build-stand-ins.sh [--force] [mosquitto|node ...]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
MOSQUITTO_IMAGE="${MOSQUITTO_STANDIN:-smqtt-standin/mosquitto:2.0}"
NODE_IMAGE="${NODE_STANDIN:-smqtt-standin/node:20-bookworm}"
LABEL=org.smqtt.standin.recipe
PATH_ENV=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

FORCE=0
TARGETS=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    mosquitto|node) TARGETS+=("$arg") ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 64 ;;
  esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(mosquitto node)

log() { printf '[stand-ins] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (ownership in the images, debootstrap, chroot)"
command -v docker >/dev/null || die "docker not found"

WORK="$(mktemp -d /tmp/smqtt-standin.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Rebuild only when the image is missing or was built from a different recipe.
up_to_date() { # image recipe
  [ "$FORCE" = 0 ] && [ "$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null)" = "$2" ]
}
recipe() { { sha256sum "$HERE/build-stand-ins.sh"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16; }

# Copies a binary (following symlinks) into a root, at dest (default: the same path), with the
# shared libraries it links at the paths the host resolves them to.
copy_with_libs() { # root file [dest]
  local root="$1" f="$2" dest="${3:-$2}" lib
  if ldd "$f" 2>/dev/null | grep -q 'not found'; then die "$f: missing libraries: $(ldd "$f" | grep 'not found' | tr -s ' \t\n' ' ')"; fi
  mkdir -p "$root$(dirname "$dest")" && cp -L "$f" "$root$dest"
  for lib in $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"; }
  done
}

# A root laid out like a merged-/usr Debian, so the host's library paths resolve the same way.
usrmerge_skeleton() { # root
  mkdir -p "$1"/usr/{bin,sbin,lib,lib64} "$1"/{etc,tmp,var/tmp,root} && chmod 1777 "$1"/tmp "$1"/var/tmp
  ln -s usr/bin "$1/bin"; ln -s usr/sbin "$1/sbin"; ln -s usr/lib "$1/lib"; ln -s usr/lib64 "$1/lib64"
}

import_rootfs() { # root image recipe change...
  local root="$1" image="$2" rcp="$3"; shift 3
  local changes=(--change "LABEL $LABEL=$rcp") c
  for c in "$@"; do changes+=(--change "$c"); done
  local old; old="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  tar --numeric-owner -C "$root" -cf - . | docker import "${changes[@]}" - "$image" >/dev/null
  # Drop the image this one replaces, unless a container still uses it.
  if [ -n "$old" ]; then docker image rm "$old" >/dev/null 2>&1 || true; fi
}

# A file from a Debian package: the host's copy when installed, else extracted from `apt-get download`.
package_file() { # package path
  local pkg="$1" path="$2" dir="$CACHE/pkg/$1"
  if [ -x "$path" ]; then echo "$path"; return; fi
  if [ ! -x "$dir$path" ]; then
    log "$path not on the host: apt-get download $pkg (install it to skip this: apt-get install $pkg)"
    mkdir -p "$WORK/dl" "$dir" && chmod 777 "$WORK/dl" # readable by apt's _apt user
    (cd "$WORK/dl" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed (apt-get update first?)"
    dpkg-deb -x "$WORK"/dl/"$pkg"_*.deb "$dir"
  fi
  echo "$dir$path"
}

build_mosquitto() {
  local mosq=/usr/sbin/mosquitto bb version rcp root
  [ -x "$mosq" ] || die "$mosq missing (apt-get install mosquitto)"
  bb="$(package_file busybox-static /bin/busybox)"
  version="$("$mosq" -h 2>/dev/null | head -n1 || true)"
  rcp="$(recipe "$version" "$(sha256sum "$mosq" "$bb")")"
  if up_to_date "$MOSQUITTO_IMAGE" "$rcp"; then log "$MOSQUITTO_IMAGE is up to date ($version)"; return; fi
  log "building $MOSQUITTO_IMAGE from the host's $mosq ($version) and $bb"
  local start=$SECONDS
  root="$WORK/mosquitto"
  usrmerge_skeleton "$root"
  copy_with_libs "$root" "$mosq"
  copy_with_libs "$root" "$bb" /usr/bin/busybox
  # busybox provides sh and the usual tools (grep for the health check), as in the Alpine-based original.
  local applet
  for applet in $("$bb" --list); do
    [ -e "$root/usr/bin/$applet" ] || [ -e "$root/usr/sbin/$applet" ] || ln -s busybox "$root/usr/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nmosquitto:x:1883:1883:mosquitto:/var/empty:/sbin/nologin\n' >"$root/etc/passwd"
  printf 'root:x:0:\nmosquitto:x:1883:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  mkdir -p "$root"/mosquitto/{config,data,log,certs} "$root/var/empty"
  # The original's default configuration and entrypoint (chown only when started as root).
  printf '# Stand-in default: the stack uploads its own configuration.\nlistener 1883\nallow_anonymous false\n' >"$root/mosquitto/config/mosquitto.conf"
  cat >"$root/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "$(id -u)" = 0 ] && [ -d /mosquitto ]; then chown -R mosquitto:mosquitto /mosquitto || true; fi
exec "$@"
EOF
  chmod 755 "$root/docker-entrypoint.sh"
  # Owned by 1883 so a fresh named volume on /mosquitto/data copies that ownership.
  chown -R 1883:1883 "$root/mosquitto"
  import_rootfs "$root" "$MOSQUITTO_IMAGE" "$rcp" \
    "ENV PATH=$PATH_ENV" \
    'VOLUME ["/mosquitto/data", "/mosquitto/log"]' \
    'EXPOSE 1883' \
    'ENTRYPOINT ["/docker-entrypoint.sh"]' \
    'CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]'
  rm -rf "$root"
  log "built $MOSQUITTO_IMAGE in $((SECONDS - start)) s"
}

# debootstrap --variant=minbase, trimmed like Debian's -slim images; cached as a tarball.
debian_base_tarball() {
  local tarball="$CACHE/debootstrap-$SUITE-minbase.tar.gz" root="$WORK/debootstrap" start=$SECONDS
  if [ -s "$tarball" ]; then echo "$tarball"; return; fi
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
  log "debootstrap --variant=minbase $SUITE from $MIRROR (cached in ${tarball#"$HERE"/})"
  mkdir -p "$CACHE"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # Like the official -slim images: no docs, man pages or locales; no apt caches.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' >"$root/etc/apt/apt.conf.d/docker-clean"
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda}/* "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
    "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  : >"$root/etc/machine-id" 2>/dev/null || true
  tar --numeric-owner -C "$root" -czf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  log "debootstrap done in $((SECONDS - start)) s: $(du -h "$tarball" | cut -f1) compressed"
  echo "$tarball"
}

# The host's Node installation: binary, npm, and the headers node-gyp builds native addons against.
node_headers_dir() {
  local d v
  v="$(node -p process.versions.node)"
  for d in "$(npm config get nodedir 2>/dev/null || true)" "$(node -p process.config.variables.node_prefix)" \
           /usr /usr/local "$HOME/.cache/node-gyp/$v"; do
    [ -n "$d" ] && [ -f "$d/include/node/common.gypi" ] && [ -f "$d/include/node/node_version.h" ] && { echo "$d/include/node"; return; }
  done
  die "no Node headers (include/node/common.gypi) found on the host"
}

# Certificate authorities the host trusts beyond Debian's (e.g. a TLS-inspecting egress proxy):
# trusted by the image's system store too, and by npm, which otherwise uses Node's built-in list.
trust_host_cas() { # root
  local root="$1" host_bundle=/etc/ssl/certs/ca-certificates.crt n
  [ -f "$host_bundle" ] || return 0
  n="$(node -e '
    const fs = require("fs"), path = require("path");
    const pems = (f) => fs.readFileSync(f, "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    const key = (p) => p.replace(/\s+/g, "");
    const known = new Set(pems(process.argv[2]).map(key));
    let n = 0;
    for (const p of pems(process.argv[1])) if (!known.has(key(p))) fs.writeFileSync(path.join(process.argv[3], `host-ca-${++n}.crt`), p + "\n");
    console.log(n);' "$host_bundle" "$root/etc/ssl/certs/ca-certificates.crt" "$root/usr/local/share/ca-certificates")"
  [ "$n" -gt 0 ] || return 0
  log "adding $n CA certificate(s) the host trusts beyond Debian's bundle"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$root/usr/local/etc/npmrc"
}

build_node() {
  local node npm_dir headers version npm_version rcp root tarball
  node="$(readlink -f "$(command -v node)")" || die "node not found"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [ -f "$npm_dir/package.json" ] || die "npm installation not found (looked at $npm_dir)"
  headers="$(node_headers_dir)"
  version="$("$node" --version)"; npm_version="$(node -p "require('$npm_dir/package.json').version")"
  rcp="$(recipe "node $version" "npm $npm_version" "$SUITE $MIRROR" "$(cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null | sha256sum)")"
  if up_to_date "$NODE_IMAGE" "$rcp"; then log "$NODE_IMAGE is up to date (node $version, npm $npm_version)"; return; fi
  tarball="$(debian_base_tarball)"
  log "building $NODE_IMAGE: $(basename "$tarball") + node $version ($node), npm $npm_version ($npm_dir), headers ($headers)"
  local start=$SECONDS
  root="$WORK/node"
  mkdir -p "$root" && tar --numeric-owner -C "$root" -xzf "$tarball"
  # Same layout as the official image: everything under /usr/local.
  install -D -m 755 "$node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include" "$root/usr/local/etc" "$root/usr/local/share/ca-certificates"
  cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
  cp -a "$headers" "$root/usr/local/include/node"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chown -R 0:0 "$root/usr/local"
  trust_host_cas "$root"
  chroot "$root" /bin/sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  chroot "$root" /usr/local/bin/node -e 'process.exit(0)' || die "node does not run in the new root (libraries?)"
  import_rootfs "$root" "$NODE_IMAGE" "$rcp" \
    "ENV PATH=$PATH_ENV" \
    "ENV NODE_VERSION=${version#v}" \
    'CMD ["node"]'
  rm -rf "$root"
  log "built $NODE_IMAGE in $((SECONDS - start)) s"
}

for target in "${TARGETS[@]}"; do "build_$target"; done
docker images --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep '^smqtt-standin/' >&2 || true
