#!/usr/bin/env bash
# Builds an arm64 (Jetson-class, aarch64) production install of edgebind from HEAD on an x86-64
# machine (issue #21): what deploy/install.sh --copy-node-modules puts on a device without a
# compiler or registry access, and what scripts/arm64/arm64.test.ts runs under emulation.
#
#   DIR/package.json, package-lock.json   from HEAD (`scripts` removed, as deploy/install.sh does)
#   DIR/dist                              tsc -p tsconfig.build.json on HEAD's src (x86-64 tsc)
#   DIR/node_modules                      npm ci --omit=dev for linux arm64 glibc
#   DIR/models, samples, examples, systemd, deploy, docs   from HEAD (what deploy/install.sh copies)
#
# Native modules: i2c-bus is compiled by node-gyp with Debian's aarch64 cross compiler against the
# headers of scripts/arm64/runtime.sh's arm64 Node (nodedir: nothing is downloaded from
# nodejs.org); @serialport/bindings-cpp builds the same way (it also ships arm64 prebuilds);
# onnxruntime-node's install script stays denied (package.json allowScripts and
# ONNXRUNTIME_NODE_INSTALL=skip) because its npm tarball already holds bin/napi-v6/linux/arm64.
# Running the install scripts on the emulated arm64 Node instead works but takes minutes.
# Every .node file that arm64 Node can load is then checked with `file` to be an aarch64 ELF.
#
# Network: the npm registry (tarballs, usually already in npm's cache from the x86-64 install)
# and, via runtime.sh, Debian's mirror. Cached: node_modules is rebuilt only when the lock file,
# package.json's dependencies or allowScripts, the arm64 Node or this script change (stamp
# DIR/modules.stamp); dist only when HEAD's src or tsconfig files change (stamp DIR/dist.stamp).
#
# Usage: scripts/arm64/install.sh [DIR]   (default .cache/arm64/app). Prints DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

app="$(realpath -m "${1:-.cache/arm64/app}")"
die() {
  echo "arm64/install.sh: $*" >&2
  exit 1
}
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ file git npm; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install g++-aarch64-linux-gnu file git npm)"
done

wrapper="$(scripts/arm64/runtime.sh)"
runtime_dir="$(dirname "$(dirname "$wrapper")")"
nodedir="$runtime_dir/node"
[ -f "$nodedir/include/node/node_api.h" ] || die "no Node headers in $nodedir (scripts/arm64/runtime.sh)"
log() { echo "arm64/install.sh: $*" >&2; }
mkdir -p "$app"

# --- node_modules ----------------------------------------------------------------------------
# Only what decides the installed tree: package.json's other fields (files, scripts) do not.
modules_key="$(
  {
    git show HEAD:package.json | node -e 'const p=JSON.parse(require("fs").readFileSync(0));
      console.log(JSON.stringify([p.dependencies, p.optionalDependencies, p.overrides, p.allowScripts]))'
    git show HEAD:package-lock.json
    cat "$runtime_dir/runtime.stamp"
    cat "$root/scripts/arm64/install.sh"
  } | sha256sum | cut -d' ' -f1
)"
if [ -d "$app/node_modules" ] && [ "$(cat "$app/modules.stamp" 2>/dev/null)" = "$modules_key" ]; then
  log "node_modules up to date ($app/modules.stamp)"
else
  rm -f "$app/modules.stamp"
  stage="$app.modules"
  rm -rf "$stage"
  mkdir -p "$stage"
  git archive HEAD package.json package-lock.json | tar -x -C "$stage"
  # The root `prepare` script builds with tsc, a dev dependency (deploy/install.sh does the same).
  node -e 'const fs=require("fs"),f=process.argv[1],p=JSON.parse(fs.readFileSync(f));delete p.scripts;fs.writeFileSync(f,JSON.stringify(p,null,2))' "$stage/package.json"
  log "npm ci --omit=dev for linux arm64 (i2c-bus cross-compiled with aarch64-linux-gnu-g++)"
  t0=$SECONDS
  # node-gyp takes its options from npm_package_config_node_gyp_* (npm 11 warns about unknown
  # npm_config_* keys such as arch); --cpu/--os/--libc pick arm64 glibc optional packages.
  # --prefer-offline: the tarballs are those the x86-64 `npm ci` just put in npm's cache (same
  # integrity); a 60 s fetch timeout instead of npm's 5 min bounds a stalled request (one CI run
  # spent 7 min here on one).
  (cd "$stage" && env \
    CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
    AR=aarch64-linux-gnu-ar \
    npm_package_config_node_gyp_arch=arm64 \
    npm_package_config_node_gyp_nodedir="$nodedir" \
    ONNXRUNTIME_NODE_INSTALL=skip \
    npm ci --omit=dev --cpu=arm64 --os=linux --libc=glibc --no-audit --no-fund --loglevel=error \
      --prefer-offline --fetch-timeout=60000) >&2
  log "npm ci took $((SECONDS - t0)) s"
  rm -rf "$app/node_modules"
  mv "$stage/node_modules" "$app/node_modules"
  rm -rf "$stage"
fi

# Every native module arm64 Node may load must be aarch64: whatever was built here (build/), and
# the prebuilt binaries chosen for linux-arm64 (other platforms' prebuilds are left alone).
bad=()
checked=0
while IFS= read -r -d '' f; do
  case "$f" in
    */prebuilds/linux-arm64/* | */bin/napi-v*/linux/arm64/*) ;;
    */prebuilds/* | */bin/napi-v*/*) continue ;;
  esac
  checked=$((checked + 1))
  file -b "$f" | grep -q '^ELF 64-bit LSB .*ARM aarch64' || bad+=("$f: $(file -b "$f" | cut -c1-60)")
done < <(find "$app/node_modules" -name '*.node' -print0)
[ "${#bad[@]}" -eq 0 ] || die "not aarch64: ${bad[*]}"
for must in i2c-bus/build/Release/i2c.node onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node; do
  [ -f "$app/node_modules/$must" ] || die "missing $must"
done
log "$checked native module(s) under node_modules are aarch64 ELF"

# --- dist ------------------------------------------------------------------------------------
dist_key="$(git rev-parse HEAD:src HEAD:tsconfig.json HEAD:tsconfig.build.json | sha256sum | cut -d' ' -f1)"
if [ -f "$app/dist/cli/index.js" ] && [ "$(cat "$app/dist.stamp" 2>/dev/null)" = "$dist_key" ]; then
  log "dist up to date ($app/dist.stamp)"
else
  rm -f "$app/dist.stamp"
  # Inside the repository, so that tsc finds its types in the x86-64 node_modules above it.
  src="$root/.cache/arm64/build"
  rm -rf "$src" "$app/dist"
  mkdir -p "$src"
  git archive HEAD src tsconfig.json tsconfig.build.json | tar -x -C "$src"
  t0=$SECONDS
  (cd "$src" && "$root/node_modules/.bin/tsc" -p tsconfig.build.json --outDir "$app/dist")
  log "tsc took $((SECONDS - t0)) s"
  rm -rf "$src"
  echo "$dist_key" >"$app/dist.stamp"
fi

# --- the rest --------------------------------------------------------------------------------
rm -rf "$app/models" "$app/samples" "$app/examples" "$app/systemd" "$app/deploy" "$app/docs"
git archive HEAD package.json package-lock.json models samples examples systemd deploy docs |
  tar -x -C "$app"
node -e 'const fs=require("fs"),f=process.argv[1],p=JSON.parse(fs.readFileSync(f));delete p.scripts;fs.writeFileSync(f,JSON.stringify(p,null,2))' "$app/package.json"
echo "$modules_key" >"$app/modules.stamp"
echo "$app"
