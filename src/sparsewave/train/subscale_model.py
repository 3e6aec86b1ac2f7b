"""Subscale WaveRNN (docs/subscale.md) for teacher-forced training: the dual-softmax model of
:mod:`.model` run over the B sub-tensors of a folded crop, plus the skewed context stack.

A crop of L samples is folded into a B x T grid (``grid[b, j] = x[j B + b]``, zero-padded to
T B samples). Each sub-tensor is an independent GRU sequence over j (zero state, previous
sample bytes (128, 0) at j = 0), so the B sub-tensors of every crop are simply B more batch
rows of :class:`DualSoftmaxWaveRNN`. The context term of docs/subscale.md,
``ctx_b(s) = ctx.proj.weight · g(s)[b E:(b + 1) E]``, is linear in the E features g, so it is E
extra GRU input columns after the mels (``extra_inputs``): their weight_ih columns *are*
``ctx.proj.weight`` (no bias, every gate row), and nn.GRU's fused loop still runs the model.

Under teacher forcing every sample is known, so the whole skewed grid z (B x S, S = T + (B-1) F)
is built at once and the causal dilated stack runs over all its columns in one pass of torch
conv1d (each layer zero-padded on the left); reader b at step s = j + b F takes column s of
``g = relu(ctx.out · e_D[s - 1])``. The engine computes the same columns one step at a time.

Fused Subscale (``fused=True``): sub-tensors 2k and 2k + 1 form group k, one GRU sequence of
the four-part cell (``parts=4``: coarse and fine of each member); row b of the grid is skewed
by floor(b / 2) F, and a group reads its first member's conditioning row.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..subscale import SUBSCALE_LIMITS, subscale_config
from .model import DualSoftmaxWaveRNN, _file_order, preemphasize, split_bytes

__all__ = ["SubscaleWaveRNN", "fold", "unfold", "skew"]

# The value a padded grid slot (audio 0.0) feeds back: split_bytes(0.0) = (128, 0).
PAD_C, PAD_F = 128, 0


def fold(x: torch.Tensor, B: int) -> torch.Tensor:
    """(batch, T B, ...) -> (batch, B, T, ...): row b of the grid is x[:, b::B]."""
    n, T = x.shape[0], x.shape[1] // B
    return x.reshape(n, T, B, *x.shape[2:]).transpose(1, 2)


def unfold(x: torch.Tensor) -> torch.Tensor:
    """(batch, B, T, ...) -> (batch, T B, ...): the inverse of :func:`fold`."""
    n, B, T = x.shape[:3]
    return x.transpose(1, 2).reshape(n, T * B, *x.shape[3:])


def skew(grid: torch.Tensor, F_: int, members: int = 1) -> torch.Tensor:
    """(batch, B, T) grid -> (batch, B, S) step columns, S = T + (G - 1) F with G = B / members:
    z[:, b, s] = grid[:, b, s - floor(b / members) F] inside the grid, else 0."""
    n, B, T = grid.shape
    G = B // members
    # row b shifted right by its group's F (B <= 64 padded copies: cheap next to the GRU)
    return torch.stack([F.pad(grid[:, b], ((b // members) * F_, (G - 1 - b // members) * F_)) for b in range(B)], 1)


class SubscaleWaveRNN(DualSoftmaxWaveRNN):
    """The dual-softmax WaveRNN of :mod:`.model` as Subscale WaveRNN (docs/subscale.md): B =
    ``sub_tensors``, F = ``horizon``, context stack of C = ``context_channels`` channels and D =
    ``context_layers`` dilated layers, E = ``context_features`` features per group (a sub-tensor,
    or with ``fused`` a pair of them sharing one four-part state)."""

    def __init__(self, hidden: int = 384, n_mels: int = 80, hop_length: int = 256, *,
                 sub_tensors: int = 16, horizon: int = 8, context_channels: int = 64, context_layers: int = 6,
                 context_features: int = 8, output_hidden: int | None = None, upsample: str = "repeat",
                 upsample_kernel: int = 0, learn_upsample: bool = False, fused: bool = False):
        # the config's own checks (docs/subscale.md's limits), before any tensor is allocated
        subscale_config(hidden, sub_tensors=sub_tensors, horizon=horizon, context_channels=context_channels,
                        context_layers=context_layers, context_features=context_features, fused=fused)
        super().__init__(hidden, n_mels, hop_length, output_hidden=output_hidden, upsample=upsample,
                         upsample_kernel=upsample_kernel, learn_upsample=learn_upsample,
                         extra_inputs=context_features, parts=4 if fused else 2)
        self.sub_tensors, self.horizon = int(sub_tensors), int(horizon)
        self.context_channels, self.context_layers = int(context_channels), int(context_layers)
        self.context_features = int(context_features)
        self.fused = bool(fused)
        self.members = 2 if fused else 1
        B, C, E = self.sub_tensors, self.context_channels, self.context_features
        self.ctx_in = nn.Conv1d(B, C, 1)
        # tap 0 multiplies column s - 2^l (the older), tap 1 column s: the file's convention
        self.ctx_conv = nn.ModuleList(nn.Conv1d(C, C, 2, dilation=2 ** layer) for layer in range(self.context_layers))
        self.ctx_out = nn.Conv1d(C, B // self.members * E, 1)

    def architecture(self) -> dict:
        return {**super().architecture(), "arch": "subscale", "sub_tensors": self.sub_tensors,
                "horizon": self.horizon, "context_channels": self.context_channels,
                "context_layers": self.context_layers, "context_features": self.context_features,
                "fused": self.fused}

    # ------------------------------------------------------------------ forward
    def context_features_of(self, grid: torch.Tensor) -> torch.Tensor:
        """(batch, B, T) grid of fed-back values -> (batch, G, T, E): the features g(s)[k E:(k+1) E]
        that reader (k, j) (group k: sub-tensor k, or fused pair k) takes at its step s = j + k F."""
        n, B, T = grid.shape
        Fh, E, G = self.horizon, self.context_features, B // self.members
        S = T + (G - 1) * Fh
        e = F.relu(self.ctx_in(skew(grid, Fh, self.members)))                 # e_0: (n, C, S)
        for layer, conv in enumerate(self.ctx_conv):
            e = e + F.relu(conv(F.pad(e, (2 ** layer, 0))))                   # causal, zero on the left
        top = F.pad(e, (1, 0))[..., :S]                                       # top(s) = e_D[s - 1], 0 at s = 0
        g = F.relu(self.ctx_out(top)).reshape(n, G, E, S)
        feats = torch.stack([g[:, k, :, k * Fh:k * Fh + T] for k in range(G)], 1)  # (n, G, E, T)
        return feats.transpose(2, 3)

    def subscale_logits(self, c: torch.Tensor, f: torch.Tensor, cond: torch.Tensor):
        """Teacher-forced (coarse, fine) logits, each (batch, L, 256), of crops of true bytes ``c``,
        ``f`` (batch, L) conditioned by ``cond`` (batch, rows, n_mels) upsampled mel rows of waveform
        time (rows past the given ones read as a zero mel). Every crop is an utterance of its own:
        zero states, zero context before it, previous bytes (128, 0)."""
        n, L = c.shape
        B = self.sub_tensors
        T = -(-L // B)
        pad = T * B - L
        c = F.pad(c, (0, pad), value=PAD_C)
        f = F.pad(f, (0, pad), value=PAD_F)
        cond = cond[:, :T * B]
        cond = F.pad(cond, (0, 0, 0, T * B - cond.shape[1]))
        gc, gf = fold(c, B), fold(f, B)                                       # (n, B, T)
        grid = (gc * 256 + gf).to(cond.dtype) / 32767.5 - 1                   # the values fed back
        M = self.members
        G = B // M
        # group k's rows: its members' bytes as parts (c, f of member 0, then member 1)
        parts = torch.stack([gc, gf], -1).reshape(n, G, M, T, 2).transpose(2, 3).reshape(n * G, T, 2 * M)
        cond_rows = fold(cond, B).reshape(n, G, M, T, -1)[:, :, 0]            # a group reads member 0's row
        inputs = torch.cat([cond_rows, self.context_features_of(grid)], -1).reshape(n * G, T, -1)
        prev = F.pad(parts[:, :-1], (0, 0, 1, 0))
        prev[:, 0, 0::2] = PAD_C                                              # each member starts at (128, 0)
        prev[:, 0, 1::2] = PAD_F
        logits, _ = self.forward_parts(prev, parts[..., :-1], inputs)          # G sequences per crop
        lc = torch.stack(logits[0::2], 2).reshape(n, G, T, M, 256)            # (n, G, T, member, 256)
        lf = torch.stack(logits[1::2], 2).reshape(n, G, T, M, 256)
        lc, lf = (unfold(x.transpose(2, 3).reshape(n, B, T, 256))[:, :L] for x in (lc, lf))
        return lc, lf

    def loss(self, batch) -> torch.Tensor:
        """Mean CE(c) + CE(f) in nats per (real, unpadded) sample of a batch of crops."""
        device = self.gru.weight_ih_l0.device
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        cond = self.upsample(batch["mels"], self.context_frames, batch["c"].shape[1] // self.hop_length)
        lc, lf = self.subscale_logits(batch["c"], batch["f"], cond)
        return (F.cross_entropy(lc.reshape(-1, 256), batch["c"].reshape(-1))
                + F.cross_entropy(lf.reshape(-1, 256), batch["f"].reshape(-1)))

    @torch.no_grad()
    def teacher_forced_logits(self, mels, audio, preemphasis: float = 0.0) -> np.ndarray:
        """(L, 512) float64 logits [coarse | fine] of a whole utterance (docs/subscale.md,
        teacher forced), as ``Vocoder.logits(mels, audio)`` of the export computes them."""
        p = next(self.parameters())
        m = torch.as_tensor(np.asarray(mels), dtype=p.dtype, device=p.device).unsqueeze(0)
        c, f = split_bytes(preemphasize(audio, preemphasis))
        cond = self.upsample(m, 0, m.shape[1])
        as_t = lambda x: torch.from_numpy(x.astype(np.int64)).unsqueeze(0).to(p.device)  # noqa: E731
        lc, lf = self.subscale_logits(as_t(c), as_t(f), cond)
        return torch.cat([lc, lf], -1)[0].double().cpu().numpy()

    # ------------------------------------------------------------------ export
    def file_tensors(self) -> dict[str, torch.Tensor]:
        out = super().file_tensors()
        M = self.n_mels
        out["ctx.in.weight"] = self.ctx_in.weight[:, :, 0]
        out["ctx.in.bias"] = self.ctx_in.bias
        for layer, conv in enumerate(self.ctx_conv):
            out[f"ctx.conv{layer}.weight"] = conv.weight
            out[f"ctx.conv{layer}.bias"] = conv.bias
        out["ctx.out.weight"] = self.ctx_out.weight[:, :, 0]
        out["ctx.out.bias"] = self.ctx_out.bias
        out["ctx.proj.weight"] = _file_order(self.gru.weight_ih_l0[:, self.byte_inputs + M:], self.hidden)
        return {k: v.detach().float() for k, v in out.items()}

    def family_config(self, sample_rate: int, block=(4, 4)) -> dict:
        return subscale_config(self.hidden, **{k: getattr(self, k) for k in SUBSCALE_LIMITS}, fused=self.fused,
                               n_mels=self.n_mels,
                               sample_rate=int(sample_rate), hop_length=self.hop_length,
                               output_hidden=self.output_hidden, upsample=self.upsample_mode,
                               upsample_kernel=self.upsample_kernel, block=tuple(int(b) for b in block))

