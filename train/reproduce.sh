#!/usr/bin/env bash
# Rebuilds models/mini (and its text-paired comparison pack) from scratch and regenerates
# models/mini/REPORT.md. docs/training.md explains each step. CPU only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${EDGEBIND_PYTHON:-/usr/bin/python3}
WORK=${WORK:-.cache/mini}
mkdir -p "$WORK"
npx tsx src/sim/dump-dataset.ts --out "$WORK/train" --seed 1 --per-class 1000
npx tsx src/sim/dump-dataset.ts --out "$WORK/val" --seed 1001 --per-class 25
"$PY" train/train.py --data "$WORK/train" --val "$WORK/val" \
  --out models/mini --baseline-out models/mini/text-paired --seed 0
npx tsx src/cli/index.ts simulate --scenario all --seed 5000 --seconds 24 --repeat 6 --out "$WORK/eval"
npx tsx src/cli/index.ts simulate --scenario random --seed 6000 --seconds 180 --repeat 2 --out "$WORK/eval/long"
EDGEBIND_REPORT_COMMAND="train/reproduce.sh" npx tsx src/cli/index.ts eval --pack models/mini \
  --baseline models/mini/text-paired --data "$WORK/eval" --report models/mini/REPORT.md
# Generated files follow the repository's formatting (npm run format:check).
npx prettier --write models/mini/manifest.json models/mini/text-paired/manifest.json models/mini/REPORT.md
cat models/mini/REPORT.md
