"""The fatchord WaveRNN family (fatchord/WaveRNN, Coqui TTS, geneing) in PyTorch, for fine-tuning.

It computes exactly what the engine's ``fatchord`` family computes (cpp/model/fatchord_model.cpp,
and the float64 reference tests/reference_models/wavernn_numpy.py), with the tensor names of the
weight file, so a ``.sw`` file loads into it and exports back through :func:`save_model`:

    aux     = MelResNet(mel zero-padded by ``pad`` frames), repeated ``hop`` times per frame
    mel_up  = (Stretch x f, smoothing conv) per factor over the padded mel, ``pad * hop`` cropped
    y       = I([x_prev, mel_up, aux_I]);  y += GRU1(y);  (y += GRU2([y, aux_rnn2]))
    logits  = fc3(relu(... relu(fc1([y, aux_fc1])) ...))

A training crop of ``F`` frames carries ``pad`` extra mel frames on each side (zeros beyond the
utterance), which is all the MelResNet and the smoothing convs reach (the engine refuses models
whose filters reach further), so a crop's conditioning equals that of the whole utterance.

BatchNorm layers always run in eval mode: fine-tuning batches are small, and updating the running
statistics would move the very normalisation the engine folds into the convs.

With ``quantize = "int8"`` (quantization-aware fine-tuning, docs/training.md) every product the
engine runs in int8 under ``Vocoder.load(weights="int8")`` is fake-quantized by the engine's rule:
its per-sample columns (``int8_matrix_columns``: W_hh, rnn2's W_ih on the state, each fc on its
input) with weights per row and the input per vector; aux columns and biases stay float. The GRUs
then run as an explicit loop, since the recurrent product sees a quantized ``h_{t-1}`` each step.
"""
from __future__ import annotations

import copy
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .fake_quant import fake_quant

__all__ = ["FatchordWaveRNN", "FREEZE_CHOICES", "labels_of", "label_values"]

# What fine-tuning may hold fixed: nothing, the conditioning network (MelResNet + upsampler +
# I's mel/aux columns stay trainable through I), or everything but the recurrent core and heads.
FREEZE_CHOICES = ("none", "conditioning", "all-but-recurrent")


def labels_of(audio: np.ndarray, n_classes: int, mu_law: bool) -> np.ndarray:
    """The class the engine's teacher forcing assigns to each sample (output_heads.cpp
    ``value_to_class``, after ``mu_law_encode`` for mu-law models), in float32 arithmetic."""
    x = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if mu_law:
        mu = np.float32(n_classes - 1)
        x = (np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)).astype(np.float32)
    k = np.floor((np.clip(x, -1.0, 1.0) + np.float32(1.0)) * np.float32(0.5) * np.float32(n_classes - 1)
                 + np.float32(0.5))
    return np.clip(k, 0, n_classes - 1).astype(np.int64)


def label_values(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The value fed back for a class: 2 k / (n - 1) - 1 (float32, as the engine computes it)."""
    return (np.float32(2.0) * np.asarray(labels, dtype=np.float32) / np.float32(n_classes - 1)
            - np.float32(1.0)).astype(np.float32)


def _add_front(x: torch.Tensor, front: torch.Tensor) -> torch.Tensor:
    """x with ``front`` added to its first front-width columns."""
    w = front.shape[-1]
    return torch.cat([x[..., :w] + front, x[..., w:]], -1)


class _MelResNet(nn.Module):
    def __init__(self, n_mels: int, compute: int, res_out: int, res_blocks: int, kernel: int, eps: float):
        super().__init__()
        self.conv_in = nn.Conv1d(n_mels, compute, kernel, bias=False)
        self.batch_norm = nn.BatchNorm1d(compute, eps=eps)
        self.layers = nn.ModuleList()
        for _ in range(res_blocks):
            blk = nn.Module()
            blk.conv1 = nn.Conv1d(compute, compute, 1, bias=False)
            blk.batch_norm1 = nn.BatchNorm1d(compute, eps=eps)
            blk.conv2 = nn.Conv1d(compute, compute, 1, bias=False)
            blk.batch_norm2 = nn.BatchNorm1d(compute, eps=eps)
            self.layers.append(blk)
        self.conv_out = nn.Conv1d(compute, res_out, 1, bias=True)

    def forward(self, mel_padded: torch.Tensor) -> torch.Tensor:  # (B, M, T + 2 pad) -> (B, R, T)
        x = F.relu(self.batch_norm(self.conv_in(mel_padded)))
        for blk in self.layers:
            res = x
            x = F.relu(blk.batch_norm1(blk.conv1(x)))
            x = blk.batch_norm2(blk.conv2(x)) + res
        return self.conv_out(x)


class _Smoothing(nn.Module):
    """The Conv2d(1, 1, (1, k)) of fatchord's upsampler: one kernel along time, zero padded."""

    def __init__(self, kernel: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, 1, 1, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        b, c, t = x.shape
        k = self.weight.shape[-1]
        y = F.conv1d(x.reshape(b * c, 1, t), self.weight.reshape(1, 1, k), padding=k // 2)
        return y.reshape(b, c, t)


class FatchordWaveRNN(nn.Module):
    """A fatchord-family WaveRNN with a softmax head, built from an engine config (the ``config``
    of a ``.sw`` file of family ``fatchord``)."""

    def __init__(self, config: Mapping):
        super().__init__()
        c = dict(config)
        if c.get("family") != "fatchord":
            raise ValueError(f"not a fatchord-family config (family {c.get('family')!r})")
        if c.get("head") != "softmax":
            raise ValueError(f"fine-tuning supports the softmax head; this model has a '{c.get('head')}' head "
                             "(mixture of logistics)")
        self.config = copy.deepcopy(c)
        self._quantize: str | None = None
        self._int8_cols: dict[str, int] = {}  # matrix -> the first columns the engine runs in int8
        self.n_mels, self.hop = int(c["n_mels"]), int(c["hop_length"])
        self.pad, self.rnn_dims = int(c["pad"]), int(c["rnn_dims"])
        self.n_classes, self.mu_law = int(c["n_classes"]), bool(c["mu_law"])
        self.n_rnn, self.fc_names = int(c["n_rnn"]), list(c["fc_names"])
        self.aux_slices = {k: (int(v[0]), int(v[1])) for k, v in c.get("aux_slices", {}).items()}
        factors, kernels = [int(f) for f in c["upsample_factors"]], [int(k) for k in c["upsample_kernel_sizes"]]
        if int(np.prod(factors)) != self.hop:
            raise ValueError(f"upsample factors {factors} do not multiply to hop_length {self.hop}")
        self.factors = factors
        self.upsample = nn.Module()
        self.upsample.resnet = _MelResNet(self.n_mels, int(c["compute_dims"]), int(c["res_out_dims"]),
                                          int(c["res_blocks"]), 2 * self.pad + 1, float(c["bn_eps"]))
        layers = []
        for k in kernels:
            layers += [nn.Identity(), _Smoothing(k)]  # Stretch2d has no weights
        self.upsample.up_layers = nn.ModuleList(layers)
        H, Fd = self.rnn_dims, int(c["fc_dims"])
        self.I = nn.Linear(1 + self.n_mels + self._aux_width("I"), H)
        self.rnn1 = nn.GRU(H, H, batch_first=True)
        if self.n_rnn == 2:
            self.rnn2 = nn.GRU(H + self._aux_width("rnn2"), H, batch_first=True)
        width = H
        for i, name in enumerate(self.fc_names):
            out = self.n_classes if i == len(self.fc_names) - 1 else Fd
            setattr(self, name, nn.Linear(width + self._aux_width(name), out))
            width = out

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path) -> "FatchordWaveRNN":
        """The model of a ``.sw`` weight file (packed matrices unpacked), in eval mode."""
        from ..weights import load_model_tensors

        tensors, config = load_model_tensors(path)
        model = cls(config)
        model.load_tensors(tensors)
        return model.eval()

    def load_tensors(self, tensors: Mapping[str, np.ndarray]) -> None:
        own = self.state_dict()
        missing = [k for k in own if k not in tensors and not k.endswith("num_batches_tracked")]
        if missing:
            raise ValueError(f"weight file lacks tensors {', '.join(missing[:6])}")
        state = {}
        for k, v in own.items():
            if k.endswith("num_batches_tracked"):
                state[k] = v
                continue
            t = torch.from_numpy(np.ascontiguousarray(tensors[k], dtype=np.float32))
            if tuple(t.shape) != tuple(v.shape):
                raise ValueError(f"tensor '{k}' has shape {tuple(t.shape)}, the config implies {tuple(v.shape)}")
            state[k] = t
        self.load_state_dict(state)

    def export_tensors(self) -> dict[str, np.ndarray]:
        """The weight file's tensors (BatchNorm statistics included, bookkeeping dropped)."""
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.state_dict().items()
                if not k.endswith("num_batches_tracked")}

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.modules():  # see the module docstring
            if isinstance(m, nn.BatchNorm1d):
                m.eval()
        return self

    def freeze(self, what: str) -> list[str]:
        """Stop gradients to a part of the model; returns the frozen parameter names."""
        if what not in FREEZE_CHOICES:
            raise ValueError(f"freeze must be one of {FREEZE_CHOICES}, got {what!r}")
        keep_prefixes = {"none": ("",), "conditioning": ("I.", "rnn", "fc"),
                         "all-but-recurrent": ("rnn", "fc")}[what]
        frozen = []
        for name, p in self.named_parameters():
            trainable = any(name.startswith(k) for k in keep_prefixes)
            p.requires_grad_(trainable)
            if not trainable:
                frozen.append(name)
        return frozen

    @property
    def quantize(self) -> str | None:
        """None (float) or "int8": fake-quantize what the engine's int8 load runs in int8."""
        return self._quantize

    @quantize.setter
    def quantize(self, mode: str | None) -> None:
        if mode not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', got {mode!r}")
        self._quantize = mode
        self.refresh_int8_columns()

    def refresh_int8_columns(self) -> None:
        """Re-read which products run in int8 (after the zero pattern changed)."""
        self._int8_cols = {} if self._quantize is None else self.engine_int8_columns()

    def engine_int8_columns(self) -> dict[str, int]:
        """The matrices ``Vocoder.load(weights="int8")`` would run in int8 with today's weights
        (a matrix whose zero pattern the engine packs in a float block shape stays float), each
        with the number of its first columns it multiplies per sample."""
        from ..weights import int8_matrix_columns, runs_in_int8

        params = dict(self.named_parameters())
        return {name: cols for name, cols in int8_matrix_columns(self.config).items()
                if runs_in_int8(params[name].detach().cpu().numpy()[:, :cols])}

    # ------------------------------------------------------------------ description
    def _aux_width(self, consumer: str) -> int:
        sl = self.aux_slices.get(consumer)
        return 0 if sl is None else sl[1] - sl[0]

    def _aux(self, aux: torch.Tensor, consumer: str) -> torch.Tensor:
        sl = self.aux_slices.get(consumer)
        return aux[..., :0] if sl is None else aux[..., sl[0]:sl[1]]

    @property
    def context_frames(self) -> int:
        """Mel frames a crop needs on each side (the MelResNet's and the upsampler's reach)."""
        return self.pad

    @property
    def hidden(self) -> int:
        return self.rnn_dims

    def architecture(self) -> dict:
        keys = ("variant", "n_mels", "hop_length", "pad", "upsample_factors", "upsample_kernel_sizes",
                "res_blocks", "compute_dims", "res_out_dims", "rnn_dims", "fc_dims", "n_rnn", "fc_names",
                "aux_slices", "n_classes", "mu_law")
        return {"family": "fatchord", **{k: self.config.get(k) for k in keys}}

    def prune_targets(self, prune_heads: bool = True) -> dict[str, tuple[torch.nn.Parameter, slice]]:
        """Matrices the block pruner may prune: each GRU gate's recurrent and input rows, I, and the
        fc layers (the output heads only with ``prune_heads``; here fc1 is a hidden layer, so it
        is always included, and the last fc is the output head)."""
        H = self.rnn_dims
        t: dict[str, tuple[torch.nn.Parameter, slice]] = {"I": (self.I.weight, slice(0, H))}
        for n in range(1, self.n_rnn + 1):
            gru = getattr(self, f"rnn{n}")
            for g, gate in enumerate(("r", "z", "n")):
                t[f"rnn{n}.hh.{gate}"] = (gru.weight_hh_l0, slice(g * H, (g + 1) * H))
                t[f"rnn{n}.ih.{gate}"] = (gru.weight_ih_l0, slice(g * H, (g + 1) * H))
        for i, name in enumerate(self.fc_names):
            if i == len(self.fc_names) - 1 and not prune_heads:
                continue
            w = getattr(self, name).weight
            t[name] = (w, slice(0, w.shape[0]))
        return t

    # ------------------------------------------------------------------ forward
    def conditioning(self, mels_padded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F + 2 pad, n_mels) -> (mel_up, aux), each (B, F hop, channels)."""
        m = mels_padded.transpose(1, 2)  # (B, M, F + 2 pad)
        frames = m.shape[2] - 2 * self.pad
        aux = self.upsample.resnet(m).repeat_interleave(self.hop, dim=2).transpose(1, 2)
        x = m
        for i, f in enumerate(self.factors):
            x = self.upsample.up_layers[2 * i + 1](x.repeat_interleave(f, dim=2))
        cut = self.pad * self.hop
        mel_up = x[:, :, cut:cut + frames * self.hop].transpose(1, 2)
        return mel_up, aux

    def _weight(self, name: str, weight: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(weight, int8 columns): with QAT its first columns fake-quantized per row, else (weight, 0)."""
        cols = self._int8_cols.get(name, 0) if self._quantize else 0
        if cols == 0:
            return weight, 0
        return torch.cat([fake_quant(weight[:, :cols], 1), weight[:, cols:]], 1), cols

    @staticmethod
    def _product(weight: tuple[torch.Tensor, int], x: torch.Tensor, bias: torch.Tensor | None,
                 hoisted: torch.Tensor | None = None) -> torch.Tensor:
        """weight [x + hoisted, rest] + bias, where ``x`` feeds the weight's first columns (its own
        width) and the rest of the input follows it in ``x``'s last columns beyond that width.
        With QAT the engine multiplies the per-sample input x[..., :cols] in int8 (fake-quantized
        per vector) and applies ``hoisted`` (the I layer's output, a per-frame term the engine
        folds through the same, already rounded, weights) in float."""
        w, cols = weight
        if cols == 0:
            return F.linear(x if hoisted is None else _add_front(x, hoisted), w, bias)
        out = F.linear(fake_quant(x[..., :cols], -1), w[:, :cols])
        if hoisted is not None:
            out = out + F.linear(hoisted, w[:, :cols])
        return out + F.linear(x[..., cols:], w[:, cols:], bias)

    def _gru(self, n: int, x: torch.Tensor, hoisted: torch.Tensor | None = None) -> torch.Tensor:
        """GRU ``rnn{n}`` over (B, T, in) -> (B, T, H) (input x, plus ``hoisted`` on its first
        columns); with QAT an explicit loop (nn.GRU's math, gate order r, z, n) whose recurrent
        product takes the quantized state each step."""
        gru = getattr(self, f"rnn{n}")
        w_hh = self._weight(f"rnn{n}.weight_hh_l0", gru.weight_hh_l0)
        w_ih = self._weight(f"rnn{n}.weight_ih_l0", gru.weight_ih_l0)
        if w_hh[1] == 0 and w_ih[1] == 0:
            return gru(x if hoisted is None else _add_front(x, hoisted))[0]
        H = self.rnn_dims
        gi = self._product(w_ih, x, gru.bias_ih_l0, hoisted)  # every step at once: its input is known
        h = x.new_zeros(x.shape[0], H)
        out = []
        for gi_t in gi.unbind(1):  # one backward for all steps (indexing gi[:, t] costs O(T) each)
            i_r, i_z, i_n = gi_t.split(H, -1)
            h_r, h_z, h_n = self._product(w_hh, h, gru.bias_hh_l0).split(H, -1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            h = (1 - z) * torch.tanh(i_n + r * h_n) + z * h
            out.append(h)
        return torch.stack(out, 1) if out else x.new_zeros(x.shape[0], 0, H)

    def forward(self, mels_padded: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, n_classes); ``prev`` (B, T) holds the fed-back values.

        y = I(...) + GRU outputs; the engine hoists the I part of every product that reads y
        (a per-frame term) and multiplies only the GRU outputs ``hs`` per sample, so they are
        kept apart here: that split is what its int8 products quantize."""
        mel_up, aux = self.conditioning(mels_padded)
        x_i = self.I(torch.cat([prev.unsqueeze(-1), mel_up, self._aux(aux, "I")], dim=-1))
        hs = self._gru(1, x_i)
        if self.n_rnn == 2:
            hs = hs + self._gru(2, torch.cat([hs, self._aux(aux, "rnn2")], dim=-1), hoisted=x_i)
        y, hoisted = hs, x_i
        for i, name in enumerate(self.fc_names):
            layer = getattr(self, name)
            y = self._product(self._weight(f"{name}.weight", layer.weight),
                              torch.cat([y, self._aux(aux, name)], dim=-1), layer.bias, hoisted)
            hoisted = None
            if i < len(self.fc_names) - 1:
                y = F.relu(y)
        return y

    def loss(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mean cross-entropy in nats per sample of a batch from :mod:`.fatchord_data`."""
        logits = self(batch["mels"], batch["prev"])
        return F.cross_entropy(logits.reshape(-1, self.n_classes), batch["labels"].reshape(-1))

    @torch.no_grad()
    def teacher_forced_logits(self, mels: np.ndarray, audio: np.ndarray) -> np.ndarray:
        """Logits of a whole utterance (mels (frames, n_mels), audio of frames * hop samples or
        fewer), fed as the engine's ``Vocoder.logits`` feeds it."""
        mels = np.asarray(mels, dtype=np.float32)
        n = len(audio)
        padded = np.zeros((mels.shape[0] + 2 * self.pad, self.n_mels), np.float32)
        padded[self.pad:self.pad + mels.shape[0]] = mels
        labels = labels_of(audio, self.n_classes, self.mu_law)
        prev = np.concatenate([[0.0], label_values(labels[:-1], self.n_classes)]).astype(np.float32)
        prev = np.pad(prev, (0, mels.shape[0] * self.hop - n))
        out = self(torch.from_numpy(padded)[None], torch.from_numpy(prev)[None])[0, :n]
        return out.numpy()

