"""Small encoders for the mini pack. Every sensor encoder ends in a linear projection head into
the shared embedding space; the exported wrappers (export.py) put the pack's fixed pooling in
front so the ONNX models take ImageBind's input signatures."""
import torch
from torch import nn
import torch.nn.functional as F

EMBED_DIM = 128


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))


class ImageEncoder(nn.Module):
    """Anchor RGB camera, [B,3,32,32]."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(conv_block(3, 16), conv_block(16, 32), conv_block(32, 64))
        self.head = nn.Linear(64 * 2, EMBED_DIM)

    def forward(self, x):
        h = self.net(x)
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))


class TextEncoder(nn.Module):
    """Word-hash ids [B,77] -> attention-pooled word vectors -> MLP. Unseen words keep their zero
    initial vectors, so words the trainer never saw add nothing instead of noise."""

    def __init__(self, vocab_size: int, width: int = 96):
        super().__init__()
        self.vocab_size = vocab_size
        self.emb = nn.Embedding(vocab_size, width)
        nn.init.zeros_(self.emb.weight)
        self.attn = nn.Linear(width, 1)
        self.mlp = nn.Sequential(nn.Linear(width, 192), nn.GELU(), nn.Linear(192, EMBED_DIM))

    def forward(self, ids):
        mask = (ids > 0) & (ids < self.vocab_size)
        e = self.emb(torch.where(mask, ids, torch.zeros_like(ids)))
        score = self.attn(e).squeeze(-1).masked_fill(~mask, -1e4)
        w = torch.softmax(score, dim=1).unsqueeze(-1)
        return self.mlp((w * e).sum(1))


class SpectrogramEncoder(nn.Module):
    """Audio fbank pooled to [B,1,64,102] per clip."""

    def __init__(self, widths=(32, 64, 96)):
        super().__init__()
        # Strided stem and a pool: 16x25 cells of ~80 ms x 4 mel bins are enough for these sounds
        # and keep CPU training fast.
        layers, cin = [nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2)], 16
        for w in widths:
            layers.append(conv_block(cin, w) if w != widths[-1] else nn.Sequential(nn.Conv2d(cin, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU()))
            cin = w
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(cin * 2, EMBED_DIM)

    def forward(self, x):
        h = self.net(x)
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], 1))


class ImageLikeEncoder(nn.Module):
    """Thermal pooled to [B,1,28,28], or depth pooled to [B,1,56,56] (finer: small or distant
    bodies differ from the floor and wall behind them by little)."""

    def __init__(self, size=28):
        super().__init__()
        stem = [conv_block(1, 16)] if size == 56 else []
        cin = 16 if size == 56 else 1
        self.net = nn.Sequential(*stem, conv_block(cin, 24), conv_block(24, 48), nn.Conv2d(48, 96, 3, padding=1), nn.BatchNorm2d(96), nn.ReLU())
        self.head = nn.Linear(96 * 2 + 3, EMBED_DIM)

    def forward(self, x):
        h = self.net(x)
        flat = x.flatten(1)
        stats = torch.stack([flat.mean(1), flat.amax(1), flat.std(1)], 1)
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3)), stats], 1))


class ImuEncoder(nn.Module):
    """IMU pooled to [B,6,500] (accel scaled by the pack's accelScale)."""

    def __init__(self):
        super().__init__()

        def blk(cin, cout, k, s):
            return nn.Sequential(nn.Conv1d(cin, cout, k, stride=s, padding=k // 2), nn.BatchNorm1d(cout), nn.ReLU())

        self.net = nn.Sequential(blk(12, 32, 7, 2), blk(32, 64, 5, 2), blk(64, 96, 5, 2))
        self.head = nn.Linear(96 * 2 + 12, EMBED_DIM)

    def forward(self, x):
        mean = x.mean(2, keepdim=True)
        dx = x - mean
        # Raw (orientation) and mean-removed (vibration) views of the signal.
        h = self.net(torch.cat([x, dx * 10.0], 1))
        std = dx.std(2)
        return self.head(torch.cat([h.mean(2), h.amax(2), mean.squeeze(2), torch.log(std + 1e-4)], 1))


def sensor_encoder(modality: str) -> nn.Module:
    if modality == "audio":
        return SpectrogramEncoder()
    if modality == "thermal":
        return ImageLikeEncoder(28)
    if modality == "depth":
        return ImageLikeEncoder(56)
    if modality == "imu":
        return ImuEncoder()
    raise ValueError(modality)


def unit(x):
    return F.normalize(x, dim=-1)
