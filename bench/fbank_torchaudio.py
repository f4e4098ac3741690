#!/usr/bin/env python3
"""torchaudio side of bench/fbank.ts.

Runs torchaudio.compliance.kaldi.fbank with ImageBind's options on the clips bench/fbank.ts wrote
(raw float32 little-endian, --samples per clip), on one thread, and prints one JSON line with the
mean time per clip. With --features-out it also writes the features ([frames][128] per clip,
float32 little-endian) so the caller can check the two implementations agree.
"""
import argparse
import json
import time

import numpy as np
import torch
import torchaudio

# ImageBind's waveform2melspec call (imagebind/data.py).
FBANK_OPTIONS = dict(
    htk_compat=True,
    sample_frequency=16000,
    use_energy=False,
    window_type="hanning",
    num_mel_bins=128,
    dither=0.0,
    frame_length=25,
    frame_shift=10,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips-file", required=True, help="float32 LE clips, back to back")
    parser.add_argument("--samples", type=int, default=32000, help="samples per clip")
    parser.add_argument("--count", type=int, default=200, help="fbank calls to time")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    parser.add_argument("--features-out", help="write each clip's features here")
    args = parser.parse_args()

    torch.set_num_threads(1)
    raw = np.fromfile(args.clips_file, dtype="<f4").reshape(-1, args.samples)
    clips = [torch.from_numpy(row.copy()).unsqueeze(0) for row in raw]
    fbank = torchaudio.compliance.kaldi.fbank

    with torch.inference_mode():
        for i in range(args.warmup):
            fbank(clips[i % len(clips)], **FBANK_OPTIONS)
        cpu = time.process_time()
        start = time.perf_counter()
        for i in range(args.count):
            fbank(clips[i % len(clips)], **FBANK_OPTIONS)
        ms_per_clip = (time.perf_counter() - start) * 1000 / args.count
        cpu_ms_per_clip = (time.process_time() - cpu) * 1000 / args.count
        if args.features_out:
            features = [fbank(clip, **FBANK_OPTIONS).numpy() for clip in clips]
            np.concatenate(features).astype("<f4").tofile(args.features_out)

    print(
        json.dumps(
            {
                "torchaudioMsPerClip": ms_per_clip,
                "torchaudioCpuMsPerClip": cpu_ms_per_clip,
                "clips": args.count,
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "torchaudio": torchaudio.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
