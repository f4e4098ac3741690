#!/usr/bin/env bash
# The arm64 CI step (issue #21), run by scripts/test.sh beside `npm test`: prepares the arm64
# Node (scripts/arm64/runtime.sh) and the arm64 production install (scripts/arm64/install.sh),
# both cached under .cache/arm64, then runs scripts/arm64/arm64.test.ts on them under QEMU.
# Nothing is skipped: without qemu-user-static, the aarch64 cross compiler or socat it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$SECONDS
scripts/arm64/runtime.sh >/dev/null
app="$(scripts/arm64/install.sh)"
echo "arm64/check.sh: runtime and install ready in $((SECONDS - t0)) s"
EDGEBIND_ARM64_APP="$app" node --import tsx --test --test-reporter=spec scripts/arm64/arm64.test.ts
echo "arm64/check.sh: done in $((SECONDS - t0)) s"
