#!/usr/bin/env bash
# Sets up everything the test suite needs on Debian/Ubuntu (system packages, npm packages),
# then runs all of it: typecheck, lint, format check, schema check and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# mosquitto: real broker for integration tests; mosquitto-clients: mosquitto_sub/pub as a user
# would run them; socat: pty pairs for serial drivers; python3-torch/-numpy/-onnx: the ImageBind
# exporter's ONNX-vs-PyTorch check on a stand-in model (Debian's /usr/bin/python3); python3-tqdm:
# the trainer's progress bars (test/train/progress.test.ts).
# systemd: systemd-analyze verify on the unit file.
# libvulkan1 and the libraries Mesa 25's lavapipe links against (LLVM 15, xcb, wayland-client): the
# WebGPU tests (issue #15) run onnxruntime's webgpu provider on that software Vulkan driver, which
# scripts/lavapipe.sh unpacks from bookworm-backports into .cache/lavapipe below.
# qemu-user-static and g++-aarch64-linux-gnu: the arm64 step (issue #21) runs arm64 Node under
# emulation on an install whose i2c-bus is cross-compiled (scripts/arm64/); file checks its binaries.
packages=(mosquitto mosquitto-clients socat systemd python3-torch python3-numpy python3-onnx python3-tqdm
  libvulkan1 libllvm15 libexpat1 libzstd1 zlib1g libwayland-client0 libx11-xcb1 libxcb1 libxcb-dri3-0
  libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxshmfence1
  qemu-user-static g++-aarch64-linux-gnu file)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

scripts/lavapipe.sh >/dev/null

# package.json's allowScripts denies onnxruntime-node's install script (a download from NuGet);
# the variable does the same for npm older than 11.16.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund

# The arm64 step (scripts/arm64/check.sh, issue #21) runs beside `npm test`, whose test runner
# keeps about one core busy on a 2-core machine: about 1 min warm, 2 min cold, inside the suite's
# 15 minutes. Niced, so that the suite's real-time tests keep their CPU. Its log is printed
# after, and either one failing fails the run.
arm64_log="$(mktemp)"
nice -n 10 scripts/arm64/check.sh >"$arm64_log" 2>&1 &
arm64_pid=$!
npm_status=0
npm test || npm_status=$?
arm64_status=0
wait "$arm64_pid" || arm64_status=$?
echo "--- arm64 step (scripts/arm64/check.sh): exit $arm64_status ---"
cat "$arm64_log"
rm -f "$arm64_log"
[ "$npm_status" -eq 0 ] || { echo "npm test failed (exit $npm_status)" >&2; exit "$npm_status"; }
[ "$arm64_status" -eq 0 ] || { echo "the arm64 step failed (exit $arm64_status)" >&2; exit "$arm64_status"; }
