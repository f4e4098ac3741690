#!/usr/bin/env bash
# Rebuilds models/mini (and its text-paired comparison pack) from scratch and regenerates
# models/mini/REPORT.md. docs/training.md explains each step. CPU only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${EDGEBIND_PYTHON:-/usr/bin/python3}
WORK=${WORK:-.cache/mini}
mkdir -p "$WORK"
# 0. The real-sound corpus (issue 13): pinned Debian packages, fetched with `apt-get download`
#    (never installed) and decoded with ffmpeg; fails unless every file matches the data card.
command -v ffmpeg >/dev/null || apt-get install -y --no-install-recommends ffmpeg
"$PY" train/real_audio.py --cache .cache/real-audio
npx tsx src/sim/real-audio.ts dump --card train/data/real-audio.json --clips .cache/real-audio --out "$WORK/real"
if [ "${1:-}" = "--audio-only" ]; then
  # How models/mini's audio encoder was made: only the audio encoder is retrained (about 2 minutes
  # of training, one thread, bit-reproducible), against the committed pack's frozen text encoder,
  # whose caption embeddings the real dump carries (--pack). Thermal, depth, IMU and text stay.
  npx tsx src/sim/real-audio.ts dump --card train/data/real-audio.json --clips .cache/real-audio \
    --out "$WORK/real-audio-only" --pack models/mini
  npx tsx src/sim/dump-dataset.ts --out "$WORK/train-audio" --seed 1 --per-class 400
  "$PY" train/train.py --audio-only --data "$WORK/train-audio" --real "$WORK/real-audio-only" \
    --out models/mini --threads 1 --seed 0
else
# 1. Simulated training data.
npx tsx src/sim/dump-dataset.ts --out "$WORK/train" --seed 1 --per-class 1000
npx tsx src/sim/dump-dataset.ts --out "$WORK/val" --seed 1001 --per-class 25
# 2. Train (audio on simulated and real sound), export both packs.
"$PY" train/train.py --data "$WORK/train" --val "$WORK/val" --real "$WORK/real" \
  --out models/mini --baseline-out models/mini/text-paired --seed 0
fi
# 3. Held-out simulated scenes, the held-out real split, and the report.
npx tsx src/cli/index.ts simulate --scenario all --seed 5000 --seconds 24 --repeat 6 --out "$WORK/eval"
npx tsx src/cli/index.ts simulate --scenario random --seed 6000 --seconds 180 --repeat 2 --out "$WORK/eval/long"
EDGEBIND_REPORT_COMMAND="train/reproduce.sh${1:+ $1}" npx tsx src/cli/index.ts eval --pack models/mini \
  --baseline models/mini/text-paired --data "$WORK/eval" --report models/mini/REPORT.md \
  --real-card train/data/real-audio.json --real-clips .cache/real-audio \
  --real-baseline train/data/real-audio-baseline.json
# Generated files follow the repository's formatting (npm run format:check).
npx prettier --write models/mini/manifest.json models/mini/text-paired/manifest.json models/mini/REPORT.md
cat models/mini/REPORT.md
