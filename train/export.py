"""Exports trained encoders as ONNX models with ImageBind's input signatures, plus manifest.json
(the format of src/encoders/manifest.ts). The pack's fixed average pooling sits at the front of
each model, so the agent's full-size preprocessing feeds it unchanged."""
import hashlib
import json
import os
import shutil

import torch
import torch.nn.functional as F
from torch import nn

from models import EMBED_DIM, unit
from progress import bar

LICENSE_NOTE = "Apache-2.0"


class TextWrap(nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, text):
        return unit(self.enc(text))


class AudioWrap(nn.Module):
    """[B,3,1,128,204] -> per-clip embeddings -> mean over the 3 clips (ImageBind's >=5-D rule)."""

    def __init__(self, enc, pool):
        super().__init__()
        self.enc, self.pool = enc, pool

    def forward(self, audio):
        x = audio.reshape(-1, 1, 128, 204)
        x = F.avg_pool2d(x, self.pool)
        z = unit(self.enc(x)).reshape(-1, 3, EMBED_DIM)
        return unit(z.mean(1))


class ImageWrap(nn.Module):
    def __init__(self, enc, pool):
        super().__init__()
        self.enc, self.pool = enc, pool

    def forward(self, x):
        return unit(self.enc(F.avg_pool2d(x, self.pool)))


class ImuWrap(nn.Module):
    def __init__(self, enc, pool):
        super().__init__()
        self.enc, self.pool = enc, pool

    def forward(self, imu):
        return unit(self.enc(F.avg_pool1d(imu, self.pool)))


SIGNATURES = {
    "text": ("text", "int64", [77]),
    "audio": ("audio", "float32", [3, 1, 128, 204]),
    "thermal": ("thermal", "float32", [1, 224, 224]),
    "depth": ("depth", "float32", [1, 224, 224]),
    "imu": ("imu", "float32", [6, 2000]),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_one(model, modality, path):
    name, dtype, dims = SIGNATURES[modality]
    model.eval()
    if dtype == "int64":
        dummy = torch.zeros(2, *dims, dtype=torch.long)
        dummy[:, 0] = 49406
        dummy[:, 1] = 5
        dummy[:, 2] = 49407
    else:
        dummy = torch.zeros(2, *dims)
    torch.onnx.export(
        model,
        (dummy,),
        path,
        input_names=[name],
        output_names=["embedding"],
        dynamic_axes={name: {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=17,
        do_constant_folding=True,
    )


def write_vocab(path, captions, concepts):
    """The pack's closed vocabulary (src/encoders/text/vocabulary.ts): every word the text encoder
    was trained on, split exactly as the word-hash tokenizer splits it, and the phrases it knows.
    The agent warns about label words outside it (issue #13)."""
    words = sorted({w for c in captions for w in c.lower().split()})
    with open(path, "w") as f:
        json.dump({"words": words, "concepts": list(concepts)}, f, indent=2)
        f.write("\n")


def write_pack(out, txt, encs, meta, vocab_size, context, kind, args, captions, training_data=None):
    os.makedirs(out, exist_ok=True)
    write_vocab(
        os.path.join(out, "vocab.json"), captions, [meta["prompts"]["canonical"][c] for c in meta["classes"]]
    )
    pool = meta["pool"]
    wraps = {
        "text": TextWrap(txt),
        "audio": AudioWrap(encs["audio"], tuple(pool["audio"])),
        "thermal": ImageWrap(encs["thermal"], tuple(pool["thermal"])),
        "depth": ImageWrap(encs["depth"], tuple(pool["depth"])),
        "imu": ImuWrap(encs["imu"], pool["imu"][1]),
    }
    encoders = {}
    for modality, model in bar(list(wraps.items()), f"export {os.path.basename(os.path.normpath(out))}", "model"):
        file = f"{modality}.onnx"
        export_one(model, modality, os.path.join(out, file))
        name, dtype, dims = SIGNATURES[modality]
        spec = {
            "file": file,
            "sha256": sha256(os.path.join(out, file)),
            "input": {"name": name, "dtype": dtype, "shape": ["batch", *dims]},
            "output": {"name": "embedding", "dim": EMBED_DIM},
            "postprocess": {"normalize": True, "logitScale": 1, "clipAverage": False},
        }
        if modality != "text":
            spec["preprocess"] = meta["preprocess"][modality]
        encoders[modality] = spec
    pack_id = "edgebind-mini" if kind == "image-anchored" else "edgebind-mini-text-paired"
    what = (
        "sensor encoders trained against the frozen anchor-image embeddings only (emergent zero-shot)"
        if kind == "image-anchored"
        else "comparison pack: sensor encoders trained directly on (text, sensor) pairs"
    )
    manifest = {
        "formatVersion": 1,
        "id": pack_id,
        "version": "1.0.0",
        "description": (
            f"Mini ImageBind for edgebind's simulated rooms: {what}. "
            f"{EMBED_DIM}-d embeddings; classes: {', '.join(meta['classes'])}."
        ),
        "license": LICENSE_NOTE,
        "provenance": (
            "Trained from scratch by edgebind train/train.py on data from edgebind's procedural simulator "
            f"(src/sim; dump seed {meta['seed']}, {meta['perClass']} samples per class; trainer seed {args.seed}, "
            f"scale {args.scale}). No third-party weights or data; not derived from ImageBind's checkpoint."
        ),
        "embeddingDim": EMBED_DIM,
        "tokenizer": {
            "kind": "word-hash",
            "vocabSize": vocab_size,
            "contextLength": context,
            "vocab": "vocab.json",
            "sha256": sha256(os.path.join(out, "vocab.json")),
        },
        "encoders": encoders,
    }
    if training_data:
        manifest["provenance"] = provenance_with_real(manifest["provenance"], training_data)
        manifest["trainingData"] = training_data
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    lic = os.path.join(os.path.dirname(os.path.abspath(__file__)), "PACK_LICENSE")
    if os.path.exists(lic):
        shutil.copy(lic, os.path.join(out, "LICENSE"))


def provenance_with_real(provenance, training_data):
    n = sum(len(t["files"]) for t in training_data)
    pkgs = sorted({f["package"] for t in training_data for f in t["files"]})
    # Re-exports replace the sentence rather than append another one.
    base = provenance.split(" The audio encoder also trained on")[0].split(" No third-party")[0]
    return (
        f"{base} The audio encoder also trained on {n} real recorded sounds from Debian packages "
        f"({', '.join(pkgs)}; licence and sha256 per file in trainingData, train/data/real-audio.md). "
        "No third-party weights; not derived from ImageBind's checkpoint."
    )


def replace_audio(out, enc, meta, training_data, args):
    """Re-exports only the pack's audio model and updates its manifest entry (sha256), the
    provenance and trainingData; every other file of the pack stays as it is."""
    path = os.path.join(out, "audio.onnx")
    export_one(AudioWrap(enc, tuple(meta["pool"]["audio"])), "audio", path)
    mpath = os.path.join(out, "manifest.json")
    with open(mpath) as f:
        manifest = json.load(f)
    manifest["encoders"]["audio"]["sha256"] = sha256(path)
    manifest["provenance"] = provenance_with_real(manifest["provenance"], training_data)
    manifest["trainingData"] = training_data
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
