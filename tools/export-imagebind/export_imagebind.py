#!/usr/bin/env python3
"""Exports ImageBind (imagebind_huge) to an edgebind model pack: one ONNX encoder per modality, the
CLIP BPE vocabulary and manifest.json, in an fp32 and an fp16 variant, each checked against PyTorch.

    python3 export_imagebind.py --checkpoint .checkpoints/imagebind_huge.pth --out packs/imagebind-huge

Needs PyTorch (the TorchScript exporter, opset 17), the official ImageBind code importable as
`imagebind` (pip install -e of facebookresearch/ImageBind at 53680b0 or later), and for the fp16
variant the `onnx` package. The check runs the ONNX models with Python's onnxruntime when it is
installed, else with onnxruntime-node through ort-run.mjs (this repository, after `npm ci`).

`--standin` replaces the official model and checkpoint by standin.py's tiny random model with the
same structure and signatures (tests use it; see README.md).

Per modality the wrapper runs preprocessor → trunk → head → postprocessor (model.eval()), like
ImageBindModel.forward for one modality. Notes (docs/model-packs.md, shared reference §8):
- audio is exported per clip, [N,1,128,204]; the manifest says clipAverage: true and edgebind
  averages each window's 3 clips, as ImageBind's ≥5-D forward does;
- the IMU preprocessor's `unfold` on dim -1 exports wrongly (onnxruntime then refuses the model),
  so its patchify is replaced by reshape → permute → reshape, checked bit-identical first;
- the text logit scale min(exp(θ), 100) is read from the checkpoint, key
  modality_postprocessors.text.1.log_logit_scale.

Memory (README.md "What it needs"): the modalities not exported (vision unless --vision) are removed
from the model before the checkpoint is loaded, only their keys are copied in and the state dict is
dropped at once (memory-mapped where torch.load supports it); each modality is exported, converted
and checked in turn and then freed.
"""

import argparse
import ctypes
import gc
import hashlib
import inspect
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

MODALITIES = ["text", "audio", "thermal", "depth", "imu"]
# Per-item input shapes (after the batch dim) and dtypes: ImageBind's signatures (reference §3).
INPUTS = {
    "text": ([77], "int64"),
    "audio": ([1, 128, 204], "float32"),
    "thermal": ([1, 224, 224], "float32"),
    "depth": ([1, 224, 224], "float32"),
    "imu": ([6, 2000], "float32"),
    "vision": ([3, 224, 224], "float32"),
}
OUTPUT_NAME = "embedding"
TEXT_SCALE_KEY = "modality_postprocessors.text.1.log_logit_scale"
BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
LICENSE = "CC-BY-NC-SA-4.0"
# ImageBind's audio constants (data.py), written into the manifest so the pack carries them.
AUDIO_PREPROCESS = {
    "sampleRateHz": 16000,
    "numMelBins": 128,
    "targetLength": 204,
    "clipDurationS": 2,
    "clipsPerWindow": 3,
    "mean": -4.268,
    "std": 9.138,
}
# Check tolerances on unit vectors (what edgebind compares): max |Δ| and min cosine.
TOLERANCE = {"fp32": (1e-4, 0.99999), "fp16": (2e-2, 0.999)}


class ExportError(Exception):
    pass


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Model


class ModalityEncoder(nn.Module):
    """One modality of ImageBindModel.forward with one tensor in and one [B, 1024] tensor out."""

    def __init__(self, model: nn.Module, modality: str):
        super().__init__()
        self.modality = modality
        self.preprocessor = model.modality_preprocessors[modality]
        self.trunk = model.modality_trunks[modality]
        self.head = model.modality_heads[modality]
        self.postprocessor = model.modality_postprocessors[modality]

    def forward(self, x):
        value = self.preprocessor(**{self.modality: x})
        tokens = self.trunk(**value["trunk"])
        embedding = self.head(tokens, **value["head"])
        return self.postprocessor(embedding)


def fix_imu_patchify(preprocessor: nn.Module) -> None:
    """Replaces `unfold(-1, k, k)` by reshape (B,6,T/k,k) → permute (0,2,1,3) → reshape (B,T/k,6k).

    The TorchScript exporter lowers unfold on a negative dim to a (B,6,k,T/k) layout without error,
    and onnxruntime then fails to load the model (MatMul dimension mismatch). Same values in torch.
    """
    original = preprocessor.forward
    k = preprocessor.kernel_size
    patches = preprocessor.pos_embed.shape[1] - preprocessor.num_cls_tokens

    def forward(self, imu):
        channels = imu.shape[1]
        x = imu.reshape(-1, channels, patches, k).permute(0, 2, 1, 3).reshape(-1, patches, channels * k)
        tokens = self.tokenize_input_and_cls_pos(x, self.imu_stem)
        return {"trunk": {"tokens": tokens}, "head": {}}

    preprocessor.forward = types.MethodType(forward, preprocessor)
    probe = torch.randn(2, 6, patches * k)
    with torch.no_grad():
        same = torch.equal(original(probe)["trunk"]["tokens"], preprocessor(probe)["trunk"]["tokens"])
    if not same:
        raise ExportError("IMU patchify fix differs from the original unfold; not exporting")
    log("imu: patchify replaced by reshape/permute/reshape (identical to unfold in torch)")


def tidy(scale: float) -> float:
    """exp() of a float32 θ to 7 significant digits: 20.0000007 → 20.0 (float32 holds no more)."""
    return float(f"{scale:.7g}")


def logit_scale(postprocessor: nn.Module) -> float:
    """min(exp(θ), max) of the postprocessor's LearnableLogitScaling, or 1 (vision: none)."""
    for m in postprocessor.modules():
        if hasattr(m, "log_logit_scale"):
            value = math.exp(float(m.log_logit_scale))
            cap = getattr(m, "max_logit_scale", None)
            return tidy(min(value, cap) if cap is not None else value)
    return 1.0


MODULE_DICTS = ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors")


def release_memory() -> None:
    """Collects garbage and hands freed heap pages back to the OS (glibc keeps them otherwise)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def drop_modalities(model: nn.Module, keep: set[str]) -> None:
    """Removes every other modality's preprocessor, trunk, head and postprocessor from the model.

    imagebind_huge builds all six; vision alone is 633 M of its 1,201 M parameters (2.5 GB in fp32).
    """
    for name in MODULE_DICTS:
        modules = getattr(model, name)
        for m in [m for m in modules.keys() if m not in keep]:
            del modules[m]
    release_memory()


def load_official(checkpoint: Path, keep: set[str]) -> tuple[nn.Module, float]:
    try:
        from imagebind.models import imagebind_model
    except ImportError as err:
        raise ExportError(
            "cannot import the official ImageBind code (pip install -e a checkout of "
            f"facebookresearch/ImageBind): {err}"
        )
    model = imagebind_model.imagebind_huge(pretrained=False)
    return model, load_checkpoint(model, checkpoint, keep)


def load_checkpoint(model: nn.Module, checkpoint: Path, keep: set[str]) -> float:
    """Loads the kept modalities' weights from the checkpoint and returns the text logit scale.

    As strict as load_state_dict(state) on the whole model: every key of the model must be in the
    checkpoint and every checkpoint key must belong to the model. The checkpoint is memory-mapped
    where torch.load can (torch ≥ 2.1) and dropped as soon as its values are copied.
    """
    expected = set(model.state_dict().keys())
    drop_modalities(model, keep)
    kwargs = {"map_location": "cpu"}
    params = inspect.signature(torch.load).parameters
    if "weights_only" in params:
        kwargs["weights_only"] = True
    if "mmap" in params:
        kwargs["mmap"] = True
    state = torch.load(checkpoint, **kwargs)
    missing = sorted(expected - state.keys())
    unexpected = sorted(state.keys() - expected)
    if missing or unexpected:
        raise ExportError(
            f"{checkpoint}: not a checkpoint of this model: "
            f"{len(missing)} keys missing (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})"
        )
    scale = text_logit_scale(state)
    model.load_state_dict({k: state[k] for k in model.state_dict().keys()})
    del state
    release_memory()
    return scale


def text_logit_scale(state: dict) -> float:
    if TEXT_SCALE_KEY not in state:
        raise ExportError(f"the checkpoint has no {TEXT_SCALE_KEY}")
    theta = float(state[TEXT_SCALE_KEY])
    scale = tidy(min(math.exp(theta), 100.0))
    log(f"text: logit scale from the checkpoint: θ = {theta:.6f}, min(exp(θ), 100) = {scale:.4f}")
    return scale


# ---------------------------------------------------------------------------------------------
# Sample inputs


def sample_input(modality: str, batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    dims, dtype = INPUTS[modality]
    if dtype == "int64":
        # Start, some word ids, end (49407, the largest id: the head picks it by argmax), zero padding.
        rows = torch.zeros(batch, dims[0], dtype=torch.int64)
        for b in range(batch):
            n = 3 + 17 * b
            rows[b, 0] = 49406
            rows[b, 1 : n + 1] = torch.randint(1, 49406, (n,), generator=g)
            rows[b, n + 1] = 49407
        return rows
    return torch.randn(batch, *dims, generator=g)


# ---------------------------------------------------------------------------------------------
# ONNX


def export_onnx(encoder: nn.Module, modality: str, path: Path, opset: int) -> None:
    example = sample_input(modality, 2, seed=1)
    with torch.no_grad():
        torch.onnx.export(
            encoder,
            (example,),
            str(path),
            input_names=[modality],
            output_names=[OUTPUT_NAME],
            dynamic_axes={modality: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
        )


def convert_fp16(src: Path, dst: Path) -> None:
    """fp16 weights and compute with float32 inputs and outputs.

    The postprocessor (L2 normalisation and scale) stays in float32: fp16's 65504 ceiling makes a
    sum of squares overflow easily. Integer tensors (token ids, shapes) are left alone.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ExportError("the fp16 variant needs the onnx package (apt python3-onnx, pip onnx); or pass --no-fp16")
    FLOAT, HALF = TensorProto.FLOAT, TensorProto.FLOAT16
    # Shape inference file to file: it runs in C++ without a second Python copy of the weights.
    inferred = dst.with_name(dst.name + ".shapes")
    onnx.shape_inference.infer_shapes_path(str(src), str(inferred))
    model = onnx.load(str(inferred))
    inferred.unlink()
    g = model.graph
    types_ = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.input) + list(g.output)}
    inits = {i.name: i for i in g.initializer}
    for name, init in inits.items():
        types_[name] = init.data_type

    def keep_fp32(node) -> bool:
        return node.name.startswith("/postprocessor/")

    dtype_now: dict[str, int] = {}  # float tensors after conversion: FLOAT or HALF
    for i in g.input:
        if types_.get(i.name) == FLOAT:
            dtype_now[i.name] = FLOAT
    new_nodes = []
    casts: dict[tuple[str, int], str] = {}
    new_inits = []

    def as_type(name: str, want: int) -> str:
        if name in inits and types_.get(name) == FLOAT:
            key = (name, want)
            if key not in casts:
                init = inits[name]
                if want == HALF:
                    arr = numpy_helper.to_array(init)
                    arr = np.clip(arr, -65504, 65504).astype(np.float16)
                    new_inits.append(numpy_helper.from_array(arr, f"{name}__fp16"))
                    casts[key] = f"{name}__fp16"
                else:
                    new_inits.append(init)
                    casts[key] = name
            return casts[key]
        have = dtype_now.get(name)
        if have is None or have == want:
            return name
        key = (name, want)
        if key not in casts:
            out = f"{name}__{'fp16' if want == HALF else 'fp32'}"
            new_nodes.append(helper.make_node("Cast", [name], [out], to=want, name=f"{out}_cast"))
            casts[key] = out
            dtype_now[out] = want
        return casts[key]

    for node in g.node:
        want = FLOAT if keep_fp32(node) else HALF
        for idx, name in enumerate(node.input):
            if name:
                node.input[idx] = as_type(name, want)
        if want == HALF:
            for attr in node.attribute:
                if node.op_type in ("Constant", "ConstantOfShape") and attr.name == "value" and attr.t.data_type == FLOAT:
                    arr = numpy_helper.to_array(attr.t)
                    attr.t.CopyFrom(numpy_helper.from_array(np.clip(arr, -65504, 65504).astype(np.float16)))
                if node.op_type == "Cast" and attr.name == "to" and attr.i == FLOAT:
                    attr.i = HALF
        for out in node.output:
            if types_.get(out) == FLOAT:
                dtype_now[out] = want
        new_nodes.append(node)
    # Graph outputs stay float32.
    for o in g.output:
        if dtype_now.get(o.name) == HALF:
            inner = f"{o.name}__fp16out"
            for n in new_nodes:
                for idx, name in enumerate(n.output):
                    if name == o.name:
                        n.output[idx] = inner
                for idx, name in enumerate(n.input):
                    if name == o.name:
                        n.input[idx] = inner
            new_nodes.append(helper.make_node("Cast", [inner], [o.name], to=FLOAT, name=f"{o.name}_cast"))
    # Integer initializers (shapes, indices) are kept as they are.
    new_inits.extend(init for init in inits.values() if init.data_type != FLOAT)
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    del g.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


class Runner:
    """Runs an ONNX model: Python onnxruntime if installed, else onnxruntime-node via ort-run.mjs."""

    def __init__(self, kind: str, providers: list[str]):
        self.providers = providers
        if kind == "auto":
            try:
                import onnxruntime  # noqa: F401

                kind = "onnxruntime"
            except ImportError:
                kind = "node"
        self.kind = kind
        if kind == "node" and shutil.which("node") is None:
            raise ExportError("no Python onnxruntime and no node for the ONNX check (or pass --no-check)")

    def run(self, model: Path, name: str, x: np.ndarray) -> np.ndarray:
        if self.kind == "onnxruntime":
            import onnxruntime as ort

            names = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
            try:
                sess = ort.InferenceSession(str(model), providers=[names.get(p, p) for p in self.providers])
                return sess.run([OUTPUT_NAME], {name: x})[0]
            except Exception as err:  # onnxruntime raises its own exception types
                raise ExportError(f"{model}: onnxruntime failed: {err}")
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            dtype = "int64" if x.dtype == np.int64 else "float32"
            (t / "in.bin").write_bytes(x.astype("<i8" if dtype == "int64" else "<f4").tobytes())
            job = {
                "model": str(model),
                "providers": self.providers,
                "inputName": name,
                "dtype": dtype,
                "dims": list(x.shape),
                "inputFile": str(t / "in.bin"),
                "outputName": OUTPUT_NAME,
                "outputFile": str(t / "out.bin"),
            }
            (t / "job.json").write_text(json.dumps(job))
            proc = subprocess.run(
                ["node", str(HERE / "ort-run.mjs"), str(t / "job.json")],
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise ExportError(f"{model}: onnxruntime-node failed:\n{proc.stderr.strip()}")
            out = np.frombuffer((t / "out.bin").read_bytes(), dtype="<f4")
            return out.reshape(x.shape[0], -1)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def check(encoder: nn.Module, modality: str, path: Path, variant: str, runner: Runner) -> dict:
    """Runs batch 1 and 2 through ONNX and PyTorch (fp32); fails above the variant's tolerance."""
    atol, min_cos = TOLERANCE[variant]
    worst = {"maxAbsDiff": 0.0, "maxAbsDiffUnit": 0.0, "minCosine": 1.0}
    for batch, seed in ((1, 11), (2, 12)):
        x = sample_input(modality, batch, seed)
        with torch.no_grad():
            ref = encoder(x).double().numpy()
        got = runner.run(path, modality, x.numpy()).astype(np.float64)
        if got.shape != ref.shape:
            raise ExportError(f"{path}: output shape {got.shape}, PyTorch gives {ref.shape}")
        diff = float(np.abs(got - ref).max())
        diff_unit = float(np.abs(unit(got) - unit(ref)).max())
        cos = float((unit(got) * unit(ref)).sum(-1).min())
        worst = {
            "maxAbsDiff": max(worst["maxAbsDiff"], diff),
            "maxAbsDiffUnit": max(worst["maxAbsDiffUnit"], diff_unit),
            "minCosine": min(worst["minCosine"], cos),
        }
        norm = float(np.linalg.norm(got, axis=-1).mean())
        ok = diff_unit <= atol and cos >= min_cos and np.isfinite(got).all()
        log(
            f"check {variant} {modality} batch {batch}: max abs diff {diff:.3e} (unit vectors {diff_unit:.3e}), "
            f"min cosine {cos:.7f}, output norm {norm:.4f} [{'ok' if ok else 'FAIL'}: tolerance {atol:g}, cosine ≥ {min_cos}]"
        )
        if not ok:
            raise ExportError(
                f"{path}: ONNX differs from PyTorch: max abs diff on unit vectors {diff_unit:.3e} "
                f"(tolerance {atol:g}), min cosine {cos:.7f} (needs ≥ {min_cos})"
            )
    return worst


# ---------------------------------------------------------------------------------------------
# Pack


def encoder_entry(modality: str, file: str, path: Path, scale: float) -> dict:
    dims, dtype = INPUTS[modality]
    entry = {
        "file": file,
        "sha256": sha256_of(path),
        "input": {"name": modality, "dtype": dtype, "shape": ["batch", *dims]},
        "output": {"name": OUTPUT_NAME, "dim": 1024},
        "postprocess": {"normalize": True, "logitScale": scale, "clipAverage": modality == "audio"},
    }
    if modality == "audio":
        entry["preprocess"] = dict(AUDIO_PREPROCESS)
    return entry


def find_bpe(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    try:
        import imagebind

        return Path(imagebind.__file__).resolve().parent / "bpe" / BPE_FILE
    except ImportError:
        raise ExportError(f"pass --bpe PATH/{BPE_FILE} (the official ImageBind code is not importable)")


def parse_args(argv):
    p = argparse.ArgumentParser(description="Export ImageBind to an edgebind model pack (fp32 and fp16).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="imagebind_huge.pth (CC BY-NC-SA 4.0 weights)")
    src.add_argument("--standin", action="store_true", help="tiny random stand-in model (tests)")
    p.add_argument("--out", type=Path, required=True, help="output folder; packs go to OUT/fp32 and OUT/fp16")
    p.add_argument("--bpe", help=f"{BPE_FILE} (default: the one inside the imagebind package)")
    p.add_argument("--modalities", default=",".join(MODALITIES), help="comma-separated subset; text is required")
    p.add_argument("--vision", action="store_true", help="also write vision.onnx (not in the manifest; >2 GB at fp32)")
    p.add_argument("--no-fp16", action="store_true", help="write the fp32 pack only")
    p.add_argument("--no-check", action="store_true", help="skip the ONNX-vs-PyTorch check")
    p.add_argument("--runtime", choices=["auto", "onnxruntime", "node"], default="auto")
    p.add_argument("--providers", default="cpu", help="execution providers for the check, e.g. cuda,cpu")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--id", default="imagebind-huge", help="pack id")
    p.add_argument("--version", default="1.0.0", help="pack version (the variant is appended)")
    p.add_argument("--seed", type=int, default=0, help="stand-in weights seed")
    p.add_argument(
        "--no-imu-fix", action="store_true", help="export the IMU patchify as written (shows the exporter bug)"
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p.parse_args(argv)


def main(argv) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    modalities = [m.strip() for m in args.modalities.split(",") if m.strip()]
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown or "text" not in modalities:
        raise ExportError(f"--modalities: {', '.join(unknown) or 'text is required'} (choose from {', '.join(MODALITIES)})")

    keep = set(modalities) | ({"vision"} if args.vision else set())
    if args.standin:
        from standin import StandInImageBind

        model = StandInImageBind(seed=args.seed)
        # Through a checkpoint file, like the real weights, so the scale is read from the state dict.
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = Path(tmp) / "standin.pth"
            torch.save(model.state_dict(), ckpt)
            model = StandInImageBind(seed=args.seed + 1)
            text_scale = load_checkpoint(model, ckpt, keep)
            ckpt_sha = sha256_of(ckpt)
        provenance = (
            f"stand-in model (tools/export-imagebind/standin.py, seed {args.seed}), random weights, NOT ImageBind; "
            f"checkpoint sha256 {ckpt_sha}"
        )
        license_ = "Apache-2.0"
    else:
        log(f"loading {args.checkpoint}")
        model, text_scale = load_official(args.checkpoint, keep)
        ckpt_sha = sha256_of(args.checkpoint)
        provenance = (
            "ImageBind imagebind_huge (facebookresearch/ImageBind, arXiv 2305.05665), "
            f"checkpoint {args.checkpoint.name} sha256 {ckpt_sha}"
        )
        license_ = LICENSE
    model.eval()
    provenance += f"; exported by edgebind tools/export-imagebind with torch {torch.__version__}, ONNX opset {args.opset}"

    scales = {m: logit_scale(model.modality_postprocessors[m]) for m in modalities}
    scales["text"] = text_scale
    if "imu" in modalities and not args.no_imu_fix:
        fix_imu_patchify(model.modality_preprocessors["imu"])

    bpe = find_bpe(args.bpe)
    if not bpe.is_file():
        raise ExportError(f"{bpe}: BPE vocabulary not found")
    bpe_sha = sha256_of(bpe)
    if bpe_sha != BPE_SHA256:
        log(f"warning: {bpe} has sha256 {bpe_sha}, not ImageBind's {BPE_SHA256}")

    variants = ["fp32"] if args.no_fp16 else ["fp32", "fp16"]
    runner = None if args.no_check else Runner(args.runtime, args.providers.split(","))
    for variant in variants:
        (args.out / variant).mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict] = {v: {} for v in variants}
    report = {}
    # One modality at a time, all variants, then its modules are freed before the next one. Text,
    # the largest of the five, goes last: its export has the highest peak and the others are gone.
    for m in [m for m in modalities if m != "text"] + ["text"] + (["vision"] if args.vision else []):
        encoder = ModalityEncoder(model, m).eval()
        for variant in variants if m != "vision" else ["fp32"]:
            path = args.out / variant / f"{m}.onnx"
            if variant == "fp32":
                note = " (not listed in the manifest: format 1 has no vision encoder)" if m == "vision" else ""
                log(f"exporting {m} → {path}{note}")
                export_onnx(encoder, m, path, args.opset)
            else:
                log(f"converting {m} → {path}")
                convert_fp16(args.out / "fp32" / f"{m}.onnx", path)
            release_memory()  # the exporter's and onnx's copies of the weights, before the check
            if m == "vision":
                continue
            if runner:
                report[f"{variant}/{m}"] = check(encoder, m, path, variant, runner)
            entries[variant][m] = encoder_entry(m, f"{m}.onnx", path, scales[m])
            log(f"{variant} {m}: {path.stat().st_size / 1e6:.2f} MB, logit scale {scales[m]:.4f}")
        del encoder
        keep.discard(m)
        drop_modalities(model, keep)
    for variant in variants:
        out = args.out / variant
        shutil.copyfile(bpe, out / BPE_FILE)
        manifest = {
            "formatVersion": 1,
            "id": args.id,
            "version": f"{args.version}-{variant}",
            "description": (
                f"ImageBind encoders for {', '.join(modalities)} as ONNX ({variant}"
                + (", fp16 compute, float32 inputs/outputs and postprocessing" if variant == "fp16" else "")
                + "); audio per clip (clipAverage)."
            ),
            "license": license_,
            "provenance": provenance,
            "embeddingDim": 1024,
            "tokenizer": {"kind": "clip-bpe", "vocab": BPE_FILE, "sha256": bpe_sha, "contextLength": 77},
            "encoders": {m: entries[variant][m] for m in modalities},
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        log(f"wrote {out / 'manifest.json'}")
    if runner:
        (args.out / "check.json").write_text(json.dumps(report, indent=2) + "\n")
        log(f"all ONNX outputs match PyTorch within tolerance ({runner.kind} runtime); details in {args.out / 'check.json'}")
    if license_ == LICENSE:
        log(f"licence: the weights are {LICENSE}: non-commercial use only")
    return 0


if __name__ == "__main__":
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    sys.path.insert(0, str(HERE))
    try:
        sys.exit(main(sys.argv[1:]))
    except ExportError as err:
        print(f"export_imagebind: {err}", file=sys.stderr)
        sys.exit(1)
