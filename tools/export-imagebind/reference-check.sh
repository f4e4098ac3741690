#!/usr/bin/env bash
# Checks edgebind against Meta's own ImageBind code on a random-weight imagebind_huge (README.md,
# "Reference check"): a seeded checkpoint, exported with export_imagebind.py (text and audio, fp32),
# ImageBind's loaders and forward on the golden WAVs, then `edgebind embed --whole` (cosine ≥ 0.99999
# per file) and `edgebind classify --imagebind-scores` (|Δ| ≤ 1e-4 per score). Exits 1 if either fails.
#
#   IMAGEBIND=~/ImageBind tools/export-imagebind/reference-check.sh
#
# Environment: IMAGEBIND (checkout of facebookresearch/ImageBind; default $WORK/ImageBind), WORK
# (checkpoint, pack and results; default /tmp/ibx), GOLDEN (default ../shared/golden beside the
# repository), LABELS (comma-separated). ImageBind's Python dependencies must be importable
# (PYTHONPATH is kept; see the README for pytorchvideo's PYTORCHVIDEO_SRC). Steps whose output
# exists are skipped: delete $WORK/imagebind_huge.pth or $WORK/pack to redo them.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=${WORK:-/tmp/ibx}
IMAGEBIND=${IMAGEBIND:-$WORK/ImageBind}
GOLDEN=${GOLDEN:-$REPO/../shared/golden}
LABELS=${LABELS:-a dog barking,a bird singing,a car engine,glass breaking,a person speaking,an alarm beeping}
export PYTHONPATH=$IMAGEBIND${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1
for need in "$IMAGEBIND/imagebind/data.py" "$GOLDEN/audio/manifest.json"; do
  [ -f "$need" ] || { echo "reference-check: $need not found (set IMAGEBIND / GOLDEN)" >&2; exit 1; }
done
cd "$REPO"
mkdir -p "$WORK"
run() { nice -n 10 /usr/bin/time -f "%e s, peak RSS %M kB" /usr/bin/python3 tools/export-imagebind/reference_check.py "$@"; }

[ -f "$WORK/imagebind_huge.pth" ] || run checkpoint "$WORK/imagebind_huge.pth" --seed 0
[ -f "$WORK/pack/fp32/manifest.json" ] || run export -- --checkpoint "$WORK/imagebind_huge.pth" --out "$WORK/pack" \
  --modalities text,audio --no-fp16 --runtime node --bpe "$IMAGEBIND/imagebind/bpe/bpe_simple_vocab_16e6.txt.gz"
run reference --checkpoint "$WORK/imagebind_huge.pth" --labels "$LABELS" --out "$WORK/reference.json" "$GOLDEN"/audio/*.wav
nice -n 10 /usr/bin/python3 tools/export-imagebind/reference_check.py compare --ref "$WORK/reference.json" \
  --pack "$WORK/pack/fp32" --out "$WORK/compare.json"
