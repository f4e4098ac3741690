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
from progress import bar, say  # noqa: E402

SENSORS = ["audio", "thermal", "depth", "imu"]
VOCAB_SIZE = 8192
CONTEXT = 77
TEMPERATURE = 0.07  # stage 2, fixed (ImageBind: fixed beats learnable)
SIM_EMPTY_ROOM = 11  # index of empty_room in the simulator's classes
AUDIO_STEPS = 600
# Audio recipe knobs (train.py flags of the same names); the defaults are what built models/mini.
OPTS = {"repeat": 0.5, "mel_shift": 2, "sim_gain_db": 15.0, "ema": 0.99}
REAL_CLEAN = 0.3  # share of real clips trained as recorded (augment_real)
REAL_BALANCE = 0.5  # real classes drawn with probability clips**REAL_BALANCE


def log(msg):
    say(f"[train {time.strftime('%H:%M:%S')}] {msg}")


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
    for step in bar(range(steps), "stage1"):
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
        # Loudness: a gain g shifts normalised log-mel by 2 ln g / 9.138 (dB / 4.343 / 9.138).
        return x + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * (2 * OPTS["sim_gain_db"] / 4.343 / FBANK_STD)
    if m == "depth":
        # Sensor-to-sensor variation: disparity gain and offset, and pixel noise.
        gain = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.2
        return x * gain + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) + 0.3 * torch.randn(x.shape, generator=gen)
    return x


# ImageBind's fbank normalisation (the pack's audio preprocess): v = (log-mel - MEAN) / STD.
FBANK_MEAN, FBANK_STD = -4.268, 9.138
FRAME_S = 2.0 / 102  # one pooled fbank column


def load_real(d):
    """Real recorded sounds (src/sim/real-audio.ts dump): pooled fbank windows [N,1,64,102], class
    ids, clip ids and split per window."""
    meta = json.load(open(os.path.join(d, "real.json")))
    n = meta["count"]
    x = torch.from_numpy(np.fromfile(os.path.join(d, "real.f32"), dtype="<f4").reshape(n, 1, 64, 102).copy())
    rows = meta["rows"]
    cls = torch.tensor([r["cls"] for r in rows], dtype=torch.long)
    train = torch.tensor([i for i, r in enumerate(rows) if r["split"] == "train"], dtype=torch.long)
    return {"x": x, "cls": cls, "train": train, "rows": rows}


def _power(v):
    return torch.exp(v * FBANK_STD + FBANK_MEAN)


def _log(p):
    return (torch.log(p.clamp_min(1e-12)) - FBANK_MEAN) / FBANK_STD


def _db(b, lo, hi, gen):
    return 10 ** ((lo + (hi - lo) * torch.rand(b, 1, 1, 1, generator=gen)) / 10)


def augment_real(x, background, other, gen, clean=0.0):
    """A real clip placed in a simulated room: gain, the room's own sound (a simulated empty-room
    window) at a random level, sometimes a second real source underneath, reverberation, a
    random shift in time and SpecAugment-style masks. Mixing adds mel powers (sources with
    independent phases add in power on average); the pooled cells make it approximate. A
    fraction `clean` of the clips keeps only gain, shift and masks: the sound as recorded, as a
    microphone in a quiet room hears it (without it the encoder only ever heard real sounds
    over a simulated room's noise)."""
    b = x.shape[0]
    room = (torch.rand(b, 1, 1, 1, generator=gen) >= clean).float()
    p = _power(x) * _db(b, -12, 6, gen) + room * _power(background) * _db(b, -25, 3, gen)
    over = (torch.rand(b, 1, 1, 1, generator=gen) < 0.3).float() * room
    p = p + over * _power(other) * _db(b, -22, -8, gen)
    # Reverberation: an exponential tail in each mel band, RT60 0.1-0.9 s, on half the room mixes.
    rt60 = 0.1 + 0.8 * torch.rand(b, 1, 1, generator=gen)
    a = torch.exp(-6.9 * FRAME_S / rt60) * (torch.rand(b, 1, 1, generator=gen) < 0.5).float() * room[:, 0]
    p = p.squeeze(1)
    cols = [p[:, :, 0]]
    for t in range(1, p.shape[2]):
        cols.append(p[:, :, t] + a[:, :, 0] * cols[-1])
    p = torch.stack(cols, 2).unsqueeze(1)
    v = _log(p)
    shift = torch.randint(-20, 21, (1,), generator=gen).item()
    v = torch.roll(v, shift, dims=3)
    # SpecAugment: one time mask (up to 12 columns) and one mel mask (up to 8 bins) per clip.
    fill = v.mean((2, 3), keepdim=True)
    t0 = torch.randint(0, 102, (b,), generator=gen)
    tw = torch.randint(0, 13, (b,), generator=gen)
    f0 = torch.randint(0, 64, (b,), generator=gen)
    fw = torch.randint(0, 9, (b,), generator=gen)
    tt = torch.arange(102)[None, :]
    ff = torch.arange(64)[None, :]
    tmask = ((tt >= t0[:, None]) & (tt < (t0 + tw)[:, None]))[:, None, None, :]
    fmask = ((ff >= f0[:, None]) & (ff < (f0 + fw)[:, None]))[:, None, :, None]
    return torch.where(tmask | fmask, fill.expand_as(v), v)


# Real classes whose sound repeats while the event lasts: a person walking is a train of steps, a
# dog barks again, an alarm beeps on. Their recordings are often one step or one bark.
REPEATING = {"person_walking": (0.4, 0.75), "dog_barking": (0.3, 1.0), "alarm_beeping": (0.25, 0.8)}


def repeat_short(x, cls, classes, gen, p=0.5):
    """Turns a short recording of a repeating sound (REPEATING) into the train of it a microphone
    hears: 2 to 4 copies of the sound above the window's quiet floor, at the class's interval
    (seconds, random within the range) and +-3 dB from copy to copy, on a fraction p of them.
    Only windows whose sound lasts under 1 s are repeated; the rest are returned as they are."""
    out = x.clone()
    lp = x * FBANK_STD + FBANK_MEAN  # log-power
    floor = lp.median(dim=3, keepdim=True).values
    active = ((lp - floor).mean(2) > math.log(2)).sum((1, 2))  # columns 3 dB above the floor
    for i, c in enumerate(cls.tolist()):
        rng = REPEATING.get(classes[c])
        if rng is None or active[i] >= 1.0 / FRAME_S or torch.rand(1, generator=gen).item() >= p:
            continue
        pw = torch.exp(lp[i])
        fl = torch.exp(floor[i])
        excess = (pw - fl).clamp_min(0)
        n = int(torch.randint(2, 5, (1,), generator=gen).item())
        gap = (rng[0] + (rng[1] - rng[0]) * torch.rand(1, generator=gen).item()) / FRAME_S
        start = -gap * (n - 1) / 2
        acc = fl.expand_as(pw).clone()
        for k in range(n):
            g = 10 ** ((torch.rand(1, generator=gen).item() - 0.5) * 0.6)
            acc = acc + g * torch.roll(excess, int(round(start + k * gap)), dims=2)
        out[i] = _log(acc)
    return out


def shift_mel(v, gen, most=2):
    """Moves each window up or down by up to `most` mel bins (edges repeat): the same sound on
    another floor, shoe or microphone sits a little higher or lower in frequency."""
    out = torch.empty_like(v)
    for i, s in enumerate(torch.randint(-most, most + 1, (v.shape[0],), generator=gen).tolist()):
        if s > 0:
            out[i] = torch.cat([v[i, :, :1].expand(-1, s, -1), v[i, :, :-s]], 1)
        elif s < 0:
            out[i] = torch.cat([v[i, :, -s:], v[i, :, -1:].expand(-1, -s, -1)], 1)
        else:
            out[i] = v[i]
    return out


def real_sampler(real, gen, power=0.5):
    """Training windows drawn with class probability proportional to clips**power (0.5: the square
    root): rare classes are seen more often than their share, without one clip of glass
    dominating."""
    tr = real["train"]
    cls = real["cls"][tr]
    classes = sorted(set(cls.tolist()))
    pools = {c: tr[cls == c] for c in classes}
    w = torch.tensor([len(pools[c]) ** power for c in classes], dtype=torch.float)

    def draw(n):
        cs = torch.multinomial(w, n, replacement=True, generator=gen)
        out = []
        for ci in cs.tolist():
            pool = pools[classes[ci]]
            out.append(pool[torch.randint(len(pool), (1,), generator=gen).item()])
        return torch.stack(out)

    return draw


def stage2_audio(arrays, labels, keep, sim_targets, cap_emb, real, steps, batch, gen, real_weight=1.0, clean=0.0, balance=0.5, classes=()):
    """Audio on simulated and real sound, bound to the frozen text (real clips have no image).
    Half of each batch is simulated windows: symmetric InfoNCE against sim_targets(idx), a random
    caption embedding of each window's class. The other half is real clips mixed into simulated
    empty rooms (augment_real): cross-entropy of each clip's embedding against one random caption
    embedding per class (cap_emb[c]: [n_c,128]), temperature 0.07."""
    enc = sensor_encoder("audio")
    opt = torch.optim.AdamW(enc.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    # An exponential moving average of the weights (BatchNorm statistics included) is what ships:
    # with a few hundred real clips one run's last step depends on its last batches.
    decay = OPTS["ema"]
    ema = torch.optim.swa_utils.AveragedModel(
        enc, avg_fn=lambda avg, new, n: decay * avg + (1 - decay) * new, use_buffers=True
    ) if decay > 0 else None
    empty = SIM_EMPTY_ROOM
    rooms = torch.tensor([i for i, y in enumerate(labels.tolist()) if y == empty])
    draw = real_sampler(real, gen, balance)
    half = batch // 2
    n_cls = len(cap_emb)
    for step in bar(range(steps), "stage2 audio"):
        idx = keep[torch.randint(len(keep), (half,), generator=gen)]
        x = augment_sensor("audio", arrays["audio"][idx], gen)
        loss_sim = clip_loss(unit(enc(x)), sim_targets(idx), 1 / TEMPERATURE)
        ridx = draw(half)
        bg = arrays["audio"][rooms[torch.randint(len(rooms), (half,), generator=gen)]]
        other = real["x"][real["train"][torch.randint(len(real["train"]), (half,), generator=gen)]]
        xr = repeat_short(real["x"][ridx], real["cls"][ridx], classes, gen, OPTS["repeat"])
        xr = shift_mel(augment_real(xr, bg, other, gen, clean), gen, OPTS["mel_shift"])
        protos = torch.stack([cap_emb[c][torch.randint(len(cap_emb[c]), (1,), generator=gen).item()] for c in range(n_cls)])
        loss_real = F.cross_entropy(unit(enc(xr)) @ protos.t() / TEMPERATURE, real["cls"][ridx])
        loss = loss_sim + real_weight * loss_real
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            ema.update_parameters(enc)
        if step % 100 == 0 or step == steps - 1:
            log(f"stage2 audio step {step} loss sim {loss_sim.item():.3f} real {loss_real.item():.3f}")
    if ema is not None:
        enc = ema.module
    enc.eval()
    return enc


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
    for step in bar(range(steps), f"stage2 {m}"):
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


def training_data_of(card_path):
    """The manifest's trainingData: every real file the pack trained on, with its sha256."""
    card = json.load(open(card_path))
    files = [
        {k: f[k] for k in ("package", "version", "path", "sha256", "licence", "class")}
        for f in card["files"]
        if f["split"] == "train"
    ]
    return [{"description": "real recorded sounds from Debian packages (train/data/real-audio.md), training split", "files": files}]


def audio_only(args, meta, arrays, labels, gen):
    """Retrains only the audio encoder of the pack in --out against that pack's frozen text
    encoder (its caption embeddings come with the real dump), exactly as the full run trains
    audio; every other file of the pack stays."""
    real = load_real(args.real)
    cm = json.load(open(os.path.join(args.real, "captions.json")))
    caps = torch.from_numpy(np.fromfile(os.path.join(args.real, "captions.f32"), dtype="<f4").reshape(-1, cm["dim"]).copy())
    ccls = torch.tensor(cm["cls"])
    cap_emb = [caps[ccls == c] for c in range(len(meta["classes"]))]

    def text_targets(idx):
        return torch.stack([cap_emb[y][torch.randint(len(cap_emb[y]), (1,), generator=gen).item()] for y in labels[idx].tolist()])

    keep = paired("audio", meta, labels)
    steps = max(2, int(args.audio_steps * args.scale))
    enc = stage2_audio(arrays, labels, keep, text_targets, cap_emb, real, steps, args.batch, gen, args.real_weight, args.real_clean, args.real_balance,
        meta["classes"])
    export.replace_audio(args.out, enc, meta, training_data_of(args.real_card), args)


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
    ap.add_argument("--real", help="real-sound dump (src/sim/real-audio.ts dump): audio also trains on real clips")
    ap.add_argument("--real-card", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "real-audio.json"),
                    help="data card of the real clips (the manifest's trainingData)")
    ap.add_argument("--real-weight", type=float, default=1.0, help="weight of the real-clip loss beside the simulated one")
    ap.add_argument("--real-clean", type=float, default=REAL_CLEAN, help="fraction of real clips trained as recorded, without a simulated room")
    ap.add_argument("--real-balance", type=float, default=REAL_BALANCE, help="real classes are drawn with probability clips**this")
    ap.add_argument("--audio-steps", type=int, default=AUDIO_STEPS, help="audio steps when training on real sound (before --scale)")
    ap.add_argument("--audio-only", action="store_true",
                    help="retrain only --out's audio encoder against that pack's text encoder (captions in --real)")
    ap.add_argument("--real-repeat", type=float, default=OPTS["repeat"], help="share of short repeating real sounds trained as trains of them")
    ap.add_argument("--mel-shift", type=int, default=OPTS["mel_shift"], help="real clips move up or down by up to this many mel bins")
    ap.add_argument("--sim-gain-db", type=float, default=OPTS["sim_gain_db"], help="simulated audio windows get a random gain within +-this")
    ap.add_argument("--ema", type=float, default=OPTS["ema"], help="decay of the audio weights' moving average (0: off)")
    args = ap.parse_args()
    OPTS.update(repeat=args.real_repeat, mel_shift=args.mel_shift, sim_gain_db=args.sim_gain_db, ema=args.ema)

    torch.set_num_threads(args.threads)
    seed_all(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    meta, arrays, labels = load_dataset(args.data)
    if args.audio_only:
        audio_only(args, meta, arrays, labels, gen)
        log(f"done in {time.time() - t0:.0f} s")
        return
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
    steps2 = {m: max(2, int({"audio": args.audio_steps if args.real else 400, "depth": 1600}.get(m, 1000) * args.scale)) for m in SENSORS}
    img, txt = stage1(arrays, labels, bank_ids, steps1, args.batch, gen)
    for p in [*img.parameters(), *txt.parameters()]:
        p.requires_grad_(False)
    img_emb = embed_all(img, arrays["rgb"])
    keep = {m: paired(m, meta, labels) for m in SENSORS}
    real = load_real(args.real) if args.real else None
    cap_emb = [embed_all(txt, ids) for ids in bank_ids]

    def text_targets(idx):
        """A random caption of each sample's class, embedded by the frozen text encoder."""
        return torch.stack(
            [cap_emb[y][torch.randint(len(cap_emb[y]), (1,), generator=gen).item()] for y in labels[idx].tolist()]
        )

    encs = {}
    for m in SENSORS:
        if m == "audio" and real is not None:
            # Real clips have no image, so audio binds to the frozen text for simulated and real
            # sound alike (one target space for both halves of each batch; see stage2_audio).
            encs[m] = stage2_audio(
                arrays, labels, keep[m], text_targets, cap_emb, real, steps2[m], args.batch, gen, args.real_weight,
                args.real_clean, args.real_balance, classes,
            )
        else:
            encs[m] = stage2(m, arrays, keep[m], lambda idx: img_emb[idx], steps2[m], args.batch, gen)

    val = load_dataset(args.val) if args.val else None
    if val:
        log(f"quick zero-shot (canonical prompts, val): {quick_zero_shot(encs, txt, meta, val)}")
    captions = [c for caps in bank for c in caps]
    training_data = training_data_of(args.real_card) if real is not None else None
    export.write_pack(
        args.out, txt, encs, meta, VOCAB_SIZE, CONTEXT, kind="image-anchored", args=args, captions=captions,
        training_data=training_data,
    )

    if args.baseline_out:
        # Comparison: the same encoders trained on (text, sensor) pairs, a random caption of the
        # sample's class as the target each step.
        base = {m: stage2(m, arrays, keep[m], text_targets, steps2[m], args.batch, gen) for m in SENSORS}
        if val:
            log(f"quick zero-shot text-paired (val): {quick_zero_shot(base, txt, meta, val)}")
        export.write_pack(
            args.baseline_out, txt, base, meta, VOCAB_SIZE, CONTEXT, kind="text-paired", args=args, captions=captions
        )
    log(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
