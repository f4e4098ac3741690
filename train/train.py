"""Mini ImageBind trainer (CPU, fixed seeds). docs/training.md explains the method.

  /usr/bin/python3 train/train.py --data DATA_DIR --out models/mini [--scale 1.0]

Stage 1 trains an anchor image encoder and a text encoder CLIP-style on (image, caption) pairs.
Stage 2 freezes both and trains the audio, thermal, depth and IMU encoders against the frozen
image embeddings only (symmetric InfoNCE, fixed temperature, linear projection heads). With
--baseline it also trains the same sensor encoders directly on (text, sensor) pairs, the
comparison row of the report. Finally it exports ONNX models and a pack manifest.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import ImageEncoder, TextEncoder, sensor_encoder, unit  # noqa: E402
from wordhash import encode  # noqa: E402
import export  # noqa: E402

SENSORS = ["audio", "thermal", "depth", "imu"]
VOCAB_SIZE = 8192
CONTEXT = 77
TEMPERATURE = 0.07  # stage 2, fixed (ImageBind: fixed beats learnable)


def log(msg):
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def load_dataset(d):
    meta = json.load(open(os.path.join(d, "meta.json")))
    n = meta["count"]
    arrays = {}
    for name, shape in meta["shapes"].items():
        a = np.fromfile(os.path.join(d, f"{name}.f32"), dtype="<f4").reshape([n, *shape])
        arrays[name] = torch.from_numpy(a.copy())
    for m in ("audio", "thermal", "depth"):
        arrays[m] = arrays[m].unsqueeze(1)
    labels = torch.tensor(meta["labels"], dtype=torch.long)
    return meta, arrays, labels


def caption_bank(prompts, classes):
    """Every template x synonym caption per class, minus any held-out paraphrase."""
    held_out = {p.lower() for ps in prompts["paraphrases"].values() for p in ps}
    bank = []
    for c in classes:
        caps = sorted({t.replace("{}", s) for t in prompts["templates"] for s in prompts["synonyms"][c]})
        caps = [x for x in caps if x.lower() not in held_out]
        bank.append(caps)
    return bank


def tokenize(texts):
    return torch.tensor([encode(t, VOCAB_SIZE, CONTEXT) for t in texts], dtype=torch.long)


def sample_captions(bank_ids, labels, gen):
    """One random caption id row per label."""
    rows = []
    for y in labels.tolist():
        ids = bank_ids[y]
        rows.append(ids[torch.randint(len(ids), (1,), generator=gen).item()])
    return torch.stack(rows)


def clip_loss(a, b, scale):
    logits = scale * a @ b.t()
    target = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def augment_rgb(x, gen):
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    gain = 0.8 + 0.4 * torch.rand(b, 1, 1, 1, generator=gen)
    return (x * gain).clamp(0, 1)


def stage1(arrays, labels, bank_ids, steps, batch, gen):
    img, txt = ImageEncoder(), TextEncoder(VOCAB_SIZE)
    log_scale = torch.nn.Parameter(torch.tensor(math.log(1 / 0.07)))
    opt = torch.optim.AdamW([*img.parameters(), *txt.parameters(), log_scale], lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    n = labels.shape[0]
    for step in range(steps):
        idx = torch.randint(n, (batch,), generator=gen)
        x = augment_rgb(arrays["rgb"][idx], gen)
        ids = sample_captions(bank_ids, labels[idx], gen)
        loss = clip_loss(unit(img(x)), unit(txt(ids)), log_scale.exp().clamp(max=100))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"stage1 step {step} loss {loss.item():.3f} scale {log_scale.exp().item():.1f}")
    img.eval()
    txt.eval()
    return img, txt


def augment_sensor(m, x, gen):
    b = x.shape[0]
    if m == "audio":
        # Loudness: a gain g shifts normalised log-mel by 2 ln g / 9.138.
        return x + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.25
    if m == "depth":
        # Sensor-to-sensor variation: disparity gain and offset, and pixel noise.
        gain = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.2
        return x * gain + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) + 0.3 * torch.randn(x.shape, generator=gen)
    return x


def paired(m, meta, labels):
    """Samples whose event the sensor records (or empty rooms): the pairs in which sensor and anchor
    camera show the same thing. A thermal frame of a room where only an alarm sounds shows an empty
    room, not the alarm light the camera sees, so that pair is dropped for thermal."""
    classes = meta["classes"]
    return torch.tensor([i for i, y in enumerate(labels.tolist()) if m in meta["observedBy"][classes[y]]])


def stage2(m, arrays, keep, targets_for, steps, batch, gen):
    """Trains a sensor encoder so its embedding matches targets_for(idx) (unit vectors)."""
    enc = sensor_encoder(m)
    opt = torch.optim.AdamW(enc.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        idx = keep[torch.randint(len(keep), (batch,), generator=gen)]
        x = augment_sensor(m, arrays[m][idx], gen)
        loss = clip_loss(unit(enc(x)), targets_for(idx), 1 / TEMPERATURE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"stage2 {m} step {step} loss {loss.item():.3f}")
    enc.eval()
    return enc


@torch.no_grad()
def embed_all(fn, x, chunk=256):
    return torch.cat([unit(fn(x[i : i + chunk])) for i in range(0, x.shape[0], chunk)])


@torch.no_grad()
def quick_zero_shot(encs, txt, meta, val):
    """Python-side sanity check on a validation dump (the real evaluation is `edgebind eval`)."""
    v_meta, v_arrays, v_labels = val
    classes = meta["classes"]
    canon = unit(txt(tokenize([meta["prompts"]["canonical"][c] for c in classes])))
    out = {}
    for m, enc in encs.items():
        obs = [i for i, c in enumerate(classes) if m in meta["observedBy"][c]]
        keep = torch.tensor([y in obs for y in v_labels.tolist()])
        z = embed_all(enc, v_arrays[m][keep])
        sims = z @ canon[obs].t()
        pred = torch.tensor(obs)[sims.argmax(1)]
        out[m] = (pred == v_labels[keep]).float().mean().item()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="training dump (src/sim/dump-dataset.ts)")
    ap.add_argument("--val", help="optional validation dump for a quick Python-side check")
    ap.add_argument("--out", required=True, help="pack directory to write")
    ap.add_argument("--baseline-out", help="also train text-paired sensor encoders into this pack")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every step count (smoke tests: 0.01)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    seed_all(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    meta, arrays, labels = load_dataset(args.data)
    classes = meta["classes"]
    bank = caption_bank(meta["prompts"], classes)
    bank_ids = [tokenize(c) for c in bank]
    log(f"{labels.shape[0]} samples, {sum(len(c) for c in bank)} captions, {len(classes)} classes")

    # A better anchor lifts every bound sensor: 1000 steps give the image encoder ~95 % top-1 on
    # the depth-observable classes, where 300 gave ~89 % and depth inherited the gap.
    steps1 = max(2, int(1000 * args.scale))
    # Audio is the costly encoder on CPU; the small image-like and IMU encoders get more steps.
    # Depth needs the most: its cues (a dog's outline, a body on the floor) are a few pixels of
    # disparity, and shorter schedules stopped near 83 % on the validation dump.
    steps2 = {m: max(2, int({"audio": 400, "depth": 1600}.get(m, 1000) * args.scale)) for m in SENSORS}
    img, txt = stage1(arrays, labels, bank_ids, steps1, args.batch, gen)
    for p in [*img.parameters(), *txt.parameters()]:
        p.requires_grad_(False)
    img_emb = embed_all(img, arrays["rgb"])
    keep = {m: paired(m, meta, labels) for m in SENSORS}
    encs = {m: stage2(m, arrays, keep[m], lambda idx: img_emb[idx], steps2[m], args.batch, gen) for m in SENSORS}

    val = load_dataset(args.val) if args.val else None
    if val:
        log(f"quick zero-shot (canonical prompts, val): {quick_zero_shot(encs, txt, meta, val)}")
    captions = [c for caps in bank for c in caps]
    export.write_pack(
        args.out, txt, encs, meta, VOCAB_SIZE, CONTEXT, kind="image-anchored", args=args, captions=captions
    )

    if args.baseline_out:
        # Comparison: the same encoders trained on (text, sensor) pairs, a random caption of the
        # sample's class as the target each step.
        cap_emb = [embed_all(txt, ids) for ids in bank_ids]

        def text_targets(idx):
            return torch.stack(
                [cap_emb[y][torch.randint(len(cap_emb[y]), (1,), generator=gen).item()] for y in labels[idx].tolist()]
            )

        base = {m: stage2(m, arrays, keep[m], text_targets, steps2[m], args.batch, gen) for m in SENSORS}
        if val:
            log(f"quick zero-shot text-paired (val): {quick_zero_shot(base, txt, meta, val)}")
        export.write_pack(
            args.baseline_out, txt, base, meta, VOCAB_SIZE, CONTEXT, kind="text-paired", args=args, captions=captions
        )
    log(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
