"""A tiny random stand-in for ImageBind's `imagebind_huge`, for testing export_imagebind.py without
the official code or checkpoint.

It has the parts the exporter touches, under the same names and with the same call conventions:
`modality_preprocessors` / `modality_trunks` / `modality_heads` / `modality_postprocessors`
(ModuleDicts keyed by modality), preprocessors called with the modality as keyword and returning
`{"trunk": {...}, "head": {...}}`, sequence-first trunks of `nn.MultiheadAttention` blocks
(bias_kv except for text, causal mask for text), heads of LayerNorm → token select → Linear to
1024, and postprocessors of L2-normalise → logit scale (learnable for text, stored under the
checkpoint key `modality_postprocessors.text.1.log_logit_scale`). The input signatures are
ImageBind's: text int64 [B,77], audio [B,1,128,204] per clip (stride-10 16×16 patches: 12×19),
depth and thermal [B,1,224,224], IMU [B,6,2000] patchified with `unfold` on dim -1 exactly like
the official IMUPreprocessor, so the exporter's IMU fix is exercised. Widths are small (16–32) and
every trunk has one block, so the whole model is a few MB.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

EMBED_DIM = 1024
TEXT_VOCAB = 49408
CONTEXT_LENGTH = 77


class Normalize(nn.Module):
    def forward(self, x):
        return F.normalize(x, dim=-1, p=2)


class LearnableLogitScaling(nn.Module):
    """min(exp(θ), max) × x, θ a parameter (text) or a buffer (fixed scales)."""

    def __init__(self, init: float, learnable: bool, max_logit_scale: float = 100.0):
        super().__init__()
        value = torch.ones([]) * math.log(init)
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)
        self.max_logit_scale = max_logit_scale

    def forward(self, x):
        return torch.clip(self.log_logit_scale.exp(), max=self.max_logit_scale) * x


class SelectElement(nn.Module):
    def __init__(self, index: int):
        super().__init__()
        self.index = index

    def forward(self, x):
        return x[:, self.index, ...]


class SelectEOSAndProject(nn.Module):
    def __init__(self, proj: nn.Module):
        super().__init__()
        self.proj = proj

    def forward(self, x, seq_len):
        return self.proj(x[torch.arange(x.shape[0]), seq_len])


class Block(nn.Module):
    def __init__(self, d: int, heads: int, bias_kv: bool):
        super().__init__()
        self.norm_1 = nn.LayerNorm(d, eps=1e-6)
        self.attn = nn.MultiheadAttention(d, heads, bias=True, add_bias_kv=bias_kv)
        self.norm_2 = nn.LayerNorm(d, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, attn_mask=None):
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.norm_2(x))


class Trunk(nn.Module):
    """Batch-first in and out, sequence-first inside (like SimpleTransformer with its rearranges)."""

    def __init__(self, d: int, heads: int, bias_kv: bool, blocks: int = 1):
        super().__init__()
        self.blocks = nn.ModuleList(Block(d, heads, bias_kv) for _ in range(blocks))

    def forward(self, tokens, attn_mask=None):
        x = tokens.transpose(0, 1)
        for block in self.blocks:
            x = block(x, attn_mask=attn_mask)
        return x.transpose(0, 1)


class TextPreprocessor(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.token_embedding = nn.Embedding(TEXT_VOCAB, d)
        self.pos_embed = nn.Parameter(torch.randn(1, CONTEXT_LENGTH, d) * 0.01)
        mask = torch.full((CONTEXT_LENGTH, CONTEXT_LENGTH), float("-inf")).triu_(1)
        self.register_buffer("mask", mask)

    def forward(self, text):
        tokens = self.token_embedding(text) + self.pos_embed
        return {
            "trunk": {"tokens": tokens, "attn_mask": self.mask},
            "head": {"seq_len": text.argmax(dim=-1)},
        }


class PatchPreprocessor(nn.Module):
    """Conv2d patch stem (no bias) → LayerNorm, CLS token, position table."""

    def __init__(self, d: int, stride: int, patches: int):
        super().__init__()
        self.proj = nn.Conv2d(1, d, kernel_size=16, stride=stride, bias=False)
        self.norm_layer = nn.LayerNorm(d, eps=1e-6)
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, d) * 0.02)

    def forward(self, **inputs):
        (x,) = inputs.values()
        tokens = self.norm_layer(self.proj(x).flatten(2).transpose(1, 2))
        tokens = torch.cat((self.cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
        return {"trunk": {"tokens": tokens + self.pos_embed}, "head": {}}


class ImuStem(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.proj = nn.Linear(48, d, bias=False)
        self.norm_layer = nn.LayerNorm(d, eps=1e-6)


class IMUPreprocessor(nn.Module):
    """Same attributes and forward as ImageBind's IMUPreprocessor (unfold on dim -1)."""

    def __init__(self, d: int, kernel_size: int = 8, samples: int = 2000):
        super().__init__()
        self.imu_stem = ImuStem(d)
        self.kernel_size = kernel_size
        self.num_cls_tokens = 1
        self.cls_token = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, samples // kernel_size + 1, d) * 0.01)

    def tokenize_input_and_cls_pos(self, input, stem):
        tokens = stem.norm_layer(stem.proj(input))
        class_tokens = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat((class_tokens, tokens), dim=1) + self.pos_embed

    def forward(self, imu):
        imu = imu.unfold(-1, self.kernel_size, self.kernel_size).permute(0, 2, 1, 3)
        imu = imu.reshape(imu.size(0), imu.size(1), -1)
        tokens = self.tokenize_input_and_cls_pos(imu, self.imu_stem)
        return {"trunk": {"tokens": tokens}, "head": {}}


def _head(d: int, dropout: bool = False) -> nn.Module:
    layers = [nn.LayerNorm(d, eps=1e-6), SelectElement(0)]
    if dropout:
        layers.append(nn.Dropout(p=0.5))
    layers.append(nn.Linear(d, EMBED_DIM, bias=False))
    return nn.Sequential(*layers)


def _post(scale: float, learnable: bool = False) -> nn.Module:
    return nn.Sequential(Normalize(), LearnableLogitScaling(scale, learnable))


class StandInImageBind(nn.Module):
    # Widths and heads per modality; one block each.
    ARCH = {"text": (32, 4), "audio": (24, 4), "depth": (16, 2), "thermal": (24, 4), "imu": (16, 2)}

    def __init__(self, seed: int = 0, text_logit_scale: float = 57.3):
        super().__init__()
        torch.manual_seed(seed)
        a = self.ARCH
        self.modality_preprocessors = nn.ModuleDict(
            {
                "text": TextPreprocessor(a["text"][0]),
                "audio": PatchPreprocessor(a["audio"][0], stride=10, patches=12 * 19),
                "depth": PatchPreprocessor(a["depth"][0], stride=16, patches=14 * 14),
                "thermal": PatchPreprocessor(a["thermal"][0], stride=16, patches=14 * 14),
                "imu": IMUPreprocessor(a["imu"][0]),
            }
        )
        self.modality_trunks = nn.ModuleDict(
            {m: Trunk(d, h, bias_kv=(m != "text")) for m, (d, h) in a.items()}
        )
        self.modality_heads = nn.ModuleDict(
            {
                "text": SelectEOSAndProject(
                    nn.Sequential(
                        nn.LayerNorm(a["text"][0], eps=1e-6),
                        nn.Linear(a["text"][0], EMBED_DIM, bias=False),
                    )
                ),
                "audio": _head(a["audio"][0]),
                "depth": _head(a["depth"][0]),
                "thermal": _head(a["thermal"][0]),
                "imu": _head(a["imu"][0], dropout=True),
            }
        )
        self.modality_postprocessors = nn.ModuleDict(
            {
                "text": _post(text_logit_scale, learnable=True),
                "audio": _post(20.0),
                "depth": _post(5.0),
                "thermal": _post(10.0),
                "imu": _post(5.0),
            }
        )
