#!/usr/bin/env bash
# Sets up everything the test suite needs on Debian/Ubuntu (system packages, npm packages),
# then runs all of it: typecheck, lint, format check, schema check and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# mosquitto: real broker for integration tests; mosquitto-clients: mosquitto_sub/pub as a user
# would run them; socat: pty pairs for serial drivers; python3-torch/-numpy/-onnx: the ImageBind
# exporter's ONNX-vs-PyTorch check on a stand-in model (Debian's /usr/bin/python3).
# systemd: systemd-analyze verify on the unit file.
packages=(mosquitto mosquitto-clients socat systemd python3-torch python3-numpy python3-onnx)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm test
