#!/usr/bin/env python3
"""ImageBind's own numbers for the reference check (reference-check.sh; README.md "Reference check").

    reference_check.py checkpoint OUT.pth [--seed 0]
    reference_check.py export -- EXPORTER-ARGS...
    reference_check.py reference --checkpoint CKPT --labels "a,b,..." --out REF.json WAV...
    reference_check.py compare --ref REF.json --pack PACK [--edgebind REPO]

`checkpoint` writes a random-weight imagebind_huge checkpoint from Meta's own model code
(torch.manual_seed(seed), imagebind_huge(pretrained=False)); `export` runs export_imagebind.py in
this process; `reference` runs ImageBind's own loaders (data.load_and_transform_audio_data as
written, data.load_and_transform_text) and forward on each WAV and the labels, and writes the file
embeddings and softmax(audio @ text.T); `compare` runs `edgebind embed --whole` and
`edgebind classify --whole --imagebind-scores` on the same files and fails (exit 1) unless every
cosine is ≥ 0.99999 and every score is within 1e-4.

The official code must be importable as `imagebind` (PYTHONPATH). Where its dependencies are not
installed, three are replaced here, each exact for this use:
- timm.layers DropPath (identity in eval) and trunc_normal_ (torch.nn.init.trunc_normal_, the same
  algorithm; it only draws the random init);
- iopath's g_pathmgr.open (builtins.open; ImageBind reads the BPE file with it);
- pytorchvideo: only data/clip_sampling.py, loaded from a checkout named by $PYTORCHVIDEO_SRC
  (the audio loader's ConstantClipsPerVideoSampler); its video transforms are not needed.
"""

import argparse
import builtins
import gc
import importlib.util
import json
import os
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent


def _module(name: str, **attrs) -> types.ModuleType:
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def _missing(name: str) -> bool:
    return importlib.util.find_spec(name) is None


class DropPath(nn.Module):
    """timm's stochastic depth; the identity in eval mode, which is all the check uses."""

    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.training and self.drop_prob > 0:
            raise RuntimeError("this DropPath stand-in is for eval mode only")
        return x


def install_stand_ins() -> None:
    if _missing("timm"):
        layers = {"DropPath": DropPath, "trunc_normal_": torch.nn.init.trunc_normal_}
        _module("timm")
        _module("timm.layers", **layers)
    if _missing("iopath"):
        _module("iopath")
        _module("iopath.common")
        _module("iopath.common.file_io", g_pathmgr=types.SimpleNamespace(open=builtins.open))
    if _missing("pytorchvideo"):
        src = os.environ.get("PYTORCHVIDEO_SRC")
        if not src:
            sys.exit("reference_check: pytorchvideo is not installed; set PYTORCHVIDEO_SRC to a checkout")
        pv = _module("pytorchvideo", transforms=_module("pytorchvideo.transforms"))
        pv.__path__ = []
        data = _module("pytorchvideo.data", encoded_video=_module("pytorchvideo.data.encoded_video", EncodedVideo=None))
        data.__path__ = []
        path = Path(src) / "pytorchvideo" / "data" / "clip_sampling.py"
        spec = importlib.util.spec_from_file_location("pytorchvideo.data.clip_sampling", path)
        data.clip_sampling = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = data.clip_sampling
        spec.loader.exec_module(data.clip_sampling)


def peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def cmd_checkpoint(args) -> None:
    from imagebind.models.imagebind_model import imagebind_huge

    t0 = time.time()
    torch.manual_seed(args.seed)
    model = imagebind_huge(pretrained=False)
    state = model.state_dict()
    n = sum(v.numel() for v in state.values())
    torch.save(state, args.out)
    print(
        f"checkpoint: imagebind_huge(pretrained=False), seed {args.seed}, {n / 1e6:.1f} M parameters → {args.out} "
        f"({time.time() - t0:.0f} s, peak RSS {peak_rss_gb():.2f} GB)",
        flush=True,
    )


def cmd_reference(args) -> None:
    from imagebind import data
    from imagebind.models.imagebind_model import ModalityType, imagebind_huge

    t0 = time.time()
    model = imagebind_huge(pretrained=False)
    # Only audio and text are compared: the other modalities are removed before loading, to keep
    # memory low. Their keys must be all that load_state_dict leaves unused.
    for dicts in (model.modality_preprocessors, model.modality_trunks, model.modality_heads, model.modality_postprocessors):
        for m in [m for m in dicts.keys() if m not in ("audio", "text")]:
            del dicts[m]
    gc.collect()
    state = torch.load(args.checkpoint, map_location="cpu")
    result = model.load_state_dict(state, strict=False)
    del state
    gc.collect()
    stray = [k for k in result.unexpected_keys if k.split(".")[1] in ("audio", "text")]
    if result.missing_keys or stray:
        sys.exit(f"reference_check: {args.checkpoint}: missing {result.missing_keys[:3]}, unexpected {stray[:3]}")
    model.eval()
    labels = [s.strip() for s in args.labels.split(",")]
    files = []
    with torch.no_grad():
        text = model({ModalityType.TEXT: data.load_and_transform_text(labels, "cpu")})[ModalityType.TEXT]
        for wav in args.wavs:
            audio = model({ModalityType.AUDIO: data.load_and_transform_audio_data([str(wav)], "cpu")})[ModalityType.AUDIO]
            scores = torch.softmax(audio @ text.T, dim=-1)[0]
            files.append({"wav": str(wav), "embedding": audio[0].tolist(), "scores": scores.tolist()})
            print(f"reference: {wav.name}: top {labels[int(scores.argmax())]} {float(scores.max()):.4f}", flush=True)
    ref = {"labels": labels, "checkpoint": str(args.checkpoint), "files": files}
    args.out.write_text(json.dumps(ref) + "\n")
    print(f"reference: {len(files)} files → {args.out} ({time.time() - t0:.0f} s, peak RSS {peak_rss_gb():.2f} GB)")


def edgebind(repo: Path, *argv: str) -> object:
    cmd = ["node", "--import", "tsx", str(repo / "src" / "cli" / "index.ts"), *argv]
    proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"reference_check: edgebind {' '.join(argv[:3])} … failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout)


def cmd_compare(args) -> None:
    import numpy as np

    ref = json.loads(args.ref.read_text())
    labels = ref["labels"]
    wavs = [f["wav"] for f in ref["files"]]
    embedded = edgebind(args.edgebind, "embed", "--pack", str(args.pack), "-m", "audio", "--whole", *wavs)
    classify = ["classify", "--pack", str(args.pack), "-m", "audio", "--whole", "--imagebind-scores", "--json"]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # one file per classify run
        classified = list(pool.map(lambda w: edgebind(args.edgebind, *classify, "--labels", ",".join(labels), w), wavs))
    rows, ok = [], True
    for f, e, r in zip(ref["files"], embedded, classified):
        want = np.asarray(f["embedding"], dtype=np.float64)
        got = np.asarray(e["embedding"], dtype=np.float64)
        cosine = float(want @ got / (np.linalg.norm(want) * np.linalg.norm(got)))
        scores = {x["label"]: x["score"] for x in r["overall"]}
        names = [label_name(x) for x in labels]
        delta = max(abs(scores[n] - s) for n, s in zip(names, f["scores"]))
        good = cosine >= 0.99999 and delta <= 1e-4
        ok = ok and good
        rows.append({"wav": Path(f["wav"]).name, "cosine": cosine, "maxScoreDelta": delta, "ok": good})
        print(f"{Path(f['wav']).name:24} cosine {cosine:.8f}  max |Δscore| {delta:.2e}  {'ok' if good else 'FAIL'}", flush=True)
    print(
        f"worst cosine {min(r['cosine'] for r in rows):.8f} (needs ≥ 0.99999), "
        f"worst |Δscore| {max(r['maxScoreDelta'] for r in rows):.2e} (needs ≤ 1e-4): {'ok' if ok else 'FAIL'}"
    )
    if args.out:
        args.out.write_text(json.dumps({"labels": labels, "files": rows}, indent=1) + "\n")
    sys.exit(0 if ok else 1)


def label_name(prompt: str) -> str:
    """classify's label name for a prompt (src/cli/commands/classify.ts labelName)."""
    import re

    slug = re.sub(r"^[_-]+|_+$", "", re.sub(r"[^a-z0-9_-]+", "_", prompt.lower()))[:64]
    return slug or "label"


def cmd_export(args) -> None:
    sys.path.insert(0, str(HERE))
    import export_imagebind

    sys.argv[0] = str(HERE / "export_imagebind.py")
    try:
        code = export_imagebind.main(args.rest)
    except export_imagebind.ExportError as err:
        print(f"export_imagebind: {err}", file=sys.stderr)
        code = 1
    sys.exit(code)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("checkpoint", help="random-weight imagebind_huge checkpoint")
    c.add_argument("out", type=Path)
    c.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("export", help="run export_imagebind.py with the stand-ins installed")
    e.add_argument("rest", nargs=argparse.REMAINDER)
    r = sub.add_parser("reference", help="ImageBind's own file embeddings and zero-shot scores")
    r.add_argument("--checkpoint", type=Path, required=True)
    r.add_argument("--labels", required=True, help="comma-separated label texts")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("wavs", type=Path, nargs="+")
    k = sub.add_parser("compare", help="edgebind embed --whole / classify --imagebind-scores against REF.json")
    k.add_argument("--ref", type=Path, required=True)
    k.add_argument("--pack", type=Path, required=True)
    k.add_argument("--edgebind", type=Path, default=HERE.parent.parent, help="repository root (default: this one)")
    k.add_argument("--out", type=Path, help="write the per-file figures here as JSON")
    k.add_argument("--jobs", type=int, default=2, help="classify runs at a time (each loads the pack)")
    args = p.parse_args()
    if args.cmd == "compare":
        return cmd_compare(args)
    install_stand_ins()
    if args.cmd == "checkpoint":
        cmd_checkpoint(args)
    elif args.cmd == "reference":
        cmd_reference(args)
    elif args.cmd == "export":
        if args.rest[:1] == ["--"]:
            args.rest = args.rest[1:]
        cmd_export(args)


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    main()
