"""The paper's dual-softmax WaveRNN in PyTorch, and its export to a sparsewave weight file.

The cell of "Efficient Neural Audio Synthesis" (Kalchbrenner et al. 2018) is exactly a GRU
over the full state of N units whose input matrix is masked so that the current coarse byte
c_t reaches only the fine half of every gate::

    x_t = [c_{t-1}, f_{t-1}, c_t, mel_up_t]      bytes scaled as byte / 127.5 - 1
    h_t = GRU(x_t, h_{t-1})                      weight_ih[coarse rows of each gate, c_t] = 0
    P(c_t) = softmax(O2 relu(O1 h_t[:N/2]))      P(f_t) = softmax(O4 relu(O3 h_t[N/2:]))

The coarse half of h_t depends only on h_{t-1}, c_{t-1}, f_{t-1} and the mel (so it is
computed before c_t is drawn at synthesis time), the fine half also on c_t. Running
``torch.nn.GRU`` over a whole sequence therefore trains the model with teacher forcing.

``parts`` P generalises the split (Fused Subscale, docs/subscale.md, has P = 4: the coarse and
fine bytes of two samples): the state is P parts of N/P, the input the P previous bytes and
this step's bytes of parts 0 .. P - 2 (part q's reaching only the parts after q), and part p
has the heads O_{2p+1}, O_{2p+2}.

With ``quantize="int8"`` (quantization-aware training, docs/training.md) the forward pass runs
an explicit per-step GRU cell with the same math, whose recurrent product and heads use
fake-quantized weights (per row) and inputs (per vector) exactly as the engine's int8 products
(:mod:`.fake_quant`); the weights themselves stay float and export unchanged.

Export (see docs/training.md) maps PyTorch's gate order (r, z, n) to the file's (u, r, e)
with u = z, r = r, e = n; ``bias_hh`` becomes the optional ``R.bias``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio.emphasis import preemphasize
from .fake_quant import fake_quant

__all__ = ["DualSoftmaxWaveRNN", "split_bytes", "preemphasize", "export_tensors", "export_config", "export_model",
           "GATE_ORDER_TO_FILE"]

# Row blocks of PyTorch's GRU matrices, taken in this order, give the file's (u, r, e):
# PyTorch stacks (r, z, n); the file stacks (u, r, e) = (z, r, n).
GATE_ORDER_TO_FILE = (1, 0, 2)

LN2 = math.log(2.0)


def split_bytes(audio) -> tuple[np.ndarray, np.ndarray]:
    """Coarse and fine bytes (uint8 arrays) of float audio in [-1, 1], as the engine splits them:
    u16 = floor((clip(x, -1, 1) + 1) * 32767.5 + 0.5), c = u16 >> 8, f = u16 & 255."""
    a = np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0)
    u16 = np.clip(np.floor((a + 1.0) * 32767.5 + 0.5), 0, 65535).astype(np.int64)
    return (u16 >> 8).astype(np.uint8), (u16 & 255).astype(np.uint8)


def hann_kernel(k: int) -> np.ndarray:
    """A normalised Hann smoothing kernel of odd length k (the default for upsample='conv')."""
    w = np.hanning(k + 2)[1:-1]
    return (w / w.sum()).astype(np.float32)


class DualSoftmaxWaveRNN(nn.Module):
    """Mel-conditioned dual-softmax WaveRNN (state N = ``hidden``, heads of width ``output_hidden``).

    ``upsample``: "repeat" (each mel frame repeated ``hop_length`` times) or "conv" (repeat, then
    a zero-padded smoothing conv of odd length ``upsample_kernel`` along time; a fixed Hann
    kernel, or learned when ``learn_upsample``).

    ``quantize``: None (float) or "int8": train what the engine runs with int8 weights (R and
    O1..O4 products fake-quantized; see the module docstring). Not part of the architecture.

    ``extra_inputs``: further GRU input columns after the mels, reaching every gate row (a
    subclass's own gate terms, e.g. the Subscale context features; 0 for the plain model).
    """

    def __init__(self, hidden: int = 384, n_mels: int = 80, hop_length: int = 256, *,
                 output_hidden: int | None = None, upsample: str = "repeat", upsample_kernel: int = 0,
                 learn_upsample: bool = False, quantize: str | None = None, extra_inputs: int = 0,
                 parts: int = 2):
        super().__init__()
        if quantize not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
        self.quantize = quantize
        if parts not in (2, 4):
            raise ValueError(f"parts must be 2 (one sample per state) or 4 (fused pairs), got {parts}")
        self.parts = int(parts)
        if hidden < parts or hidden % parts:
            raise ValueError(f"hidden must be a multiple of {parts} (the state's parts), got {hidden}")
        if upsample not in ("repeat", "conv"):
            raise ValueError(f"upsample must be 'repeat' or 'conv', got {upsample!r}")
        if upsample == "conv":
            if upsample_kernel < 1 or upsample_kernel % 2 == 0:
                raise ValueError("upsample='conv' needs an odd upsample_kernel >= 1")
            if upsample_kernel // 2 > hop_length:
                raise ValueError("upsample_kernel // 2 may not exceed hop_length (one frame of context)")
        self.hidden = int(hidden)
        self.n_mels = int(n_mels)
        self.hop_length = int(hop_length)
        self.output_hidden = int(output_hidden or hidden // 2)
        self.upsample_mode = upsample
        self.upsample_kernel = int(upsample_kernel) if upsample == "conv" else 0
        P, H = self.parts, self.output_hidden
        part = self.hidden // P
        self.byte_inputs = 2 * P - 1  # the P previous bytes, this step's bytes of parts 0 .. P - 2

        self.gru = nn.GRU(input_size=self.byte_inputs + self.n_mels + int(extra_inputs), hidden_size=self.hidden,
                          batch_first=True)
        for p in range(P):  # O1, O2 (coarse), O3, O4 (fine), ...: part p's pair
            setattr(self, f"O{2 * p + 1}", nn.Linear(part, H))
            setattr(self, f"O{2 * p + 2}", nn.Linear(H, 256))
        # Part q's byte of this step (input column P + q; c_t for P = 2) reaches only the parts
        # after q in each gate. The mask is the same for PyTorch's (r, z, n) and the file's
        # (u, r, e) order: part rows come in order within each gate's N rows.
        mask = torch.ones(3 * self.hidden, self.gru.input_size)
        for q in range(P - 1):
            for g in range(3):
                mask[g * self.hidden:g * self.hidden + (q + 1) * part, P + q] = 0
        self.register_buffer("ih_mask", mask, persistent=False)
        with torch.no_grad():
            self.gru.weight_ih_l0.mul_(mask)
        if upsample == "conv":
            k = torch.from_numpy(hann_kernel(self.upsample_kernel))
            if learn_upsample:
                self.upsample_weight = nn.Parameter(k)
            else:
                self.register_buffer("upsample_weight", k)
        else:
            self.upsample_weight = None

    # ------------------------------------------------------------------ sizes
    @property
    def context_frames(self) -> int:
        """Mel frames of context needed on each side of a crop (1 for conv upsampling, else 0)."""
        return 1 if self.upsample_mode == "conv" else 0

    @property
    def head_names(self) -> list[str]:
        return [f"O{i}" for i in range(1, 2 * self.parts + 1)]

    def architecture(self) -> dict:
        return {"hidden": self.hidden, "n_mels": self.n_mels, "hop_length": self.hop_length,
                "output_hidden": self.output_hidden, "upsample": self.upsample_mode,
                "upsample_kernel": self.upsample_kernel,
                "learn_upsample": isinstance(self.upsample_weight, nn.Parameter)}

    # ------------------------------------------------------------------ forward
    def upsample(self, mels: torch.Tensor, lead: int = 0, frames: int | None = None) -> torch.Tensor:
        """(B, F', n_mels) mel frames -> (B, frames * hop, n_mels) conditioning rows.

        ``lead`` frames at the start (and the same number at the end) are context only: the
        output covers frames ``lead .. lead + frames``. With conv upsampling the context frames
        must be present (zeros beyond an utterance's edges reproduce the engine's zero padding).
        """
        B, Fp, M = mels.shape
        if frames is None:
            frames = Fp - 2 * lead
        rep = torch.repeat_interleave(mels, self.hop_length, dim=1)
        if self.upsample_mode == "conv":
            k = self.upsample_weight.to(rep.dtype)
            half = k.numel() // 2
            x = rep.transpose(1, 2).reshape(B * M, 1, -1)
            x = F.conv1d(x, k.view(1, 1, -1), padding=half)
            rep = x.reshape(B, M, -1).transpose(1, 2)
        start = lead * self.hop_length
        return rep[:, start:start + frames * self.hop_length]

    def masked_weight_ih(self) -> torch.Tensor:
        return self.gru.weight_ih_l0 * self.ih_mask.to(self.gru.weight_ih_l0.dtype)

    def forward(self, prev_c: torch.Tensor, prev_f: torch.Tensor, cur_c: torch.Tensor,
                cond: torch.Tensor, h0: torch.Tensor | None = None):
        """Teacher-forced pass. Bytes (B, T) integer tensors, ``cond`` (B, T, n_mels) upsampled mels
        (followed by the ``extra_inputs`` columns, if any).

        Returns (coarse logits (B, T, 256), fine logits (B, T, 256), final state (1, B, N)).
        """
        (lc, lf), hn = self.forward_parts(torch.stack([prev_c, prev_f], -1), cur_c.unsqueeze(-1), cond, h0)
        return lc, lf, hn

    def forward_parts(self, prev: torch.Tensor, cur: torch.Tensor, cond: torch.Tensor,
                      h0: torch.Tensor | None = None):
        """Teacher-forced pass of any ``parts`` P: ``prev`` (B, T, P) the previous step's bytes,
        ``cur`` (B, T, P - 1) this step's bytes of parts 0 .. P - 2, ``cond`` as in :meth:`forward`.

        Returns ([part p's logits (B, T, 256) for each p], final state (1, B, N)).
        """
        dt = cond.dtype
        x = torch.cat([prev.to(dt) / 127.5 - 1, cur.to(dt) / 127.5 - 1, cond], dim=-1)
        # The masked copy of weight_ih is used in the forward pass, so the gradient of the
        # masked entries is exactly zero (they never move away from zero).
        part = self.hidden // self.parts
        if self.quantize is None:
            h, hn = torch.func.functional_call(self.gru, {"weight_ih_l0": self.masked_weight_ih()}, (x, h0))
            linear = lambda layer, v: layer(v)  # noqa: E731
        else:
            h, hn = self.gru_steps(x, h0, quantize=True)
            linear = self._qlinear
        logits = []
        for p in range(self.parts):
            a, b = getattr(self, f"O{2 * p + 1}"), getattr(self, f"O{2 * p + 2}")
            logits.append(linear(b, F.relu(linear(a, h[..., p * part:(p + 1) * part]))))
        return logits, hn

    @staticmethod
    def _qlinear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        """The engine's int8 product: weights per row, the input per vector, then the float bias."""
        return F.linear(fake_quant(x, -1), fake_quant(layer.weight, 1), layer.bias)

    def gru_steps(self, x: torch.Tensor, h0: torch.Tensor | None = None, *, quantize: bool = False):
        """nn.GRU's math as an explicit loop over time (gate order r, z, n; masked weight_ih):
        (outputs (B, T, N), final state (1, B, N)). With ``quantize`` the recurrent product
        W_hh h_{t-1} uses fake-quantized W_hh (per row) and h_{t-1} (per vector), as the engine's
        int8 R does; the input product stays float (the engine applies it in float too)."""
        g = self.gru
        N = self.hidden
        B, T, _ = x.shape
        gi = F.linear(x, self.masked_weight_ih(), g.bias_ih_l0)  # (B, T, 3N), all steps at once
        w_hh = fake_quant(g.weight_hh_l0, 1) if quantize else g.weight_hh_l0
        h = x.new_zeros(B, N) if h0 is None else h0.reshape(B, N)
        if T == 0:
            return x.new_zeros(B, 0, N), h.unsqueeze(0)
        out = []
        for gi_t in gi.unbind(1):  # one backward for all steps (indexing gi[:, t] costs O(T) each)
            gh = F.linear(fake_quant(h, -1) if quantize else h, w_hh, g.bias_hh_l0)
            i_r, i_z, i_n = gi_t.split(N, -1)
            h_r, h_z, h_n = gh.split(N, -1)
            r = torch.sigmoid(i_r + h_r)
            z = torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = (1 - z) * n + z * h
            out.append(h)
        return torch.stack(out, 1), h.unsqueeze(0)

    def loss(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Mean CE(c) + CE(f) in nats per sample of a batch from :mod:`sparsewave.train.data`."""
        device = self.gru.weight_ih_l0.device
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        cond = self.upsample(batch["mels"], self.context_frames, batch["c"].shape[1] // self.hop_length)
        lc, lf, _ = self(batch["prev_c"], batch["prev_f"], batch["c"], cond)
        return (F.cross_entropy(lc.reshape(-1, 256), batch["c"].reshape(-1))
                + F.cross_entropy(lf.reshape(-1, 256), batch["f"].reshape(-1)))

    def prune_targets(self, prune_heads: bool = False) -> dict:
        """Matrices the block pruner prunes, by file name: the GRU's recurrent gate rows (PyTorch
        stacks r, z, n; the file calls them R.r, R.u, R.e) and, with ``prune_heads``, O1..O4
        (O1..O8 with four parts)."""
        N, w_hh = self.hidden, self.gru.weight_hh_l0
        t = {"R.u": (w_hh, slice(1 * N, 2 * N)), "R.r": (w_hh, slice(0 * N, 1 * N)),
             "R.e": (w_hh, slice(2 * N, 3 * N))}
        if prune_heads:
            for name in self.head_names:
                w = getattr(self, name).weight
                t[name] = (w, slice(0, w.shape[0]))
        return t

    @torch.no_grad()
    def teacher_forced_logits(self, mels, audio, preemphasis: float = 0.0) -> np.ndarray:
        """What ``Vocoder.logits(mels, audio)`` computes for the exported model: (n, 512) float64
        logits [coarse | fine] of a whole utterance, state starting at zero and the first step
        fed c = 128, f = 0. ``mels`` (frames, n_mels), ``audio`` float in [-1, 1]; a model trained
        on pre-emphasised audio sees ``preemphasize(audio, preemphasis)``."""
        p = next(self.parameters())
        m = torch.as_tensor(np.asarray(mels), dtype=p.dtype, device=p.device).unsqueeze(0)
        c, f = split_bytes(preemphasize(audio, preemphasis))
        n = len(c)
        cond = self.upsample(m, 0, m.shape[1])[:, :n]
        c_t = torch.from_numpy(c.astype(np.int64)).unsqueeze(0).to(p.device)
        f_t = torch.from_numpy(f.astype(np.int64)).unsqueeze(0).to(p.device)
        prev_c = torch.cat([torch.full((1, 1), 128, dtype=torch.int64, device=p.device), c_t[:, :-1]], 1)
        prev_f = torch.cat([torch.zeros((1, 1), dtype=torch.int64, device=p.device), f_t[:, :-1]], 1)
        lc, lf, _ = self(prev_c, prev_f, c_t, cond)
        return torch.cat([lc, lf], -1)[0].double().cpu().numpy()

    # ------------------------------------------------------------------ export
    def file_tensors(self) -> dict[str, torch.Tensor]:
        """The dual-softmax family's tensors (torch, file names and row order); :func:`export_tensors`
        makes them NumPy. GRU input columns after the mels (``extra_inputs``) are a subclass's."""
        N, M = self.hidden, self.n_mels
        g = self.gru
        w_ih = _file_order(self.masked_weight_ih().detach().float(), N)
        out = {
            "R.weight": _file_order(g.weight_hh_l0.detach().float(), N),
            "R.bias": _file_order(g.bias_hh_l0.detach().float(), N),
            "I.weight": w_ih[:, :self.byte_inputs],
            "I.bias": _file_order(g.bias_ih_l0.detach().float(), N),
            "cond.weight": w_ih[:, self.byte_inputs:self.byte_inputs + M],
            "cond.bias": torch.zeros(3 * N),
        }
        for name in self.head_names:
            layer = getattr(self, name)
            out[name + ".weight"] = layer.weight.detach().float()
            out[name + ".bias"] = layer.bias.detach().float()
        if self.upsample_mode == "conv":
            out["upsample.weight"] = self.upsample_weight.detach().float()
        return out

    def family_config(self, sample_rate: int, block=(4, 4)) -> dict:
        """The weight file's config without "mel" and informational keys: ``dual_softmax_config``."""
        from ..dual_softmax import dual_softmax_config

        return dual_softmax_config(self.hidden, n_mels=self.n_mels, sample_rate=int(sample_rate),
                                   hop_length=self.hop_length, output_hidden=self.output_hidden,
                                   upsample=self.upsample_mode, upsample_kernel=self.upsample_kernel,
                                   block=tuple(int(b) for b in block))


def _file_order(t: torch.Tensor, hidden: int) -> torch.Tensor:
    """Reorder the 3N rows of a PyTorch GRU tensor from (r, z, n) to the file's (u, r, e)."""
    return torch.cat([t[g * hidden:(g + 1) * hidden] for g in GATE_ORDER_TO_FILE], 0)


@torch.no_grad()
def export_tensors(model: DualSoftmaxWaveRNN) -> dict[str, np.ndarray]:
    """The weight-file tensors (float32 NumPy, file names) of ``model``, of its own family."""
    return {k: np.ascontiguousarray(v.detach().float().cpu().numpy(), dtype=np.float32)
            for k, v in model.file_tensors().items()}


def export_config(model: DualSoftmaxWaveRNN, *, sample_rate: int, block=(4, 4), mel: Mapping | None = None,
                  extra: Mapping | None = None) -> dict:
    """The weight file's config: the model's family config (``dual_softmax_config``, or the
    subscale one) plus the mel front end ("mel") and any informational ``extra`` keys (e.g.
    "training")."""
    cfg = model.family_config(int(sample_rate), block)
    if mel is not None:
        if int(mel["hop_length"]) != model.hop_length or int(mel["n_mels"]) != model.n_mels:
            raise ValueError("the mel config's hop_length / n_mels differ from the model's")
        if int(mel["sample_rate"]) != int(sample_rate):
            raise ValueError("the mel config's sample_rate differs from the model's")
        cfg["mel"] = dict(mel)
    if extra:
        for k, v in extra.items():
            cfg.setdefault(k, v)
    return cfg


def export_model(model: DualSoftmaxWaveRNN, path, *, sample_rate: int, block=(4, 4), mel: Mapping | None = None,
                 extra: Mapping | None = None) -> Path:
    """Write ``model`` as a sparsewave weight file (sparse matrices packed by ``save_model``)."""
    from ..weights import save_model

    return save_model(path, export_tensors(model),
                      export_config(model, sample_rate=sample_rate, block=block, mel=mel, extra=extra))


def _torch_order(t: np.ndarray, hidden: int) -> torch.Tensor:
    """Inverse of :func:`_file_order`: the file's (u, r, e) rows back to PyTorch's (r, z, n)."""
    t = torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32))
    blocks = [None] * 3
    for file_pos, torch_gate in enumerate(GATE_ORDER_TO_FILE):
        blocks[torch_gate] = t[file_pos * hidden:(file_pos + 1) * hidden]
    return torch.cat(blocks, 0)


def model_from_file(path) -> tuple[DualSoftmaxWaveRNN, dict]:
    """A dual-softmax ``.sw`` file as a trainable model (the inverse of :func:`export_model`),
    and the file's config. ``upsample='conv'`` kernels load as learnable parameters."""
    from ..weights import load_model_tensors

    t, cfg = load_model_tensors(path)
    if cfg.get("family") != "dual_softmax":
        raise ValueError(f"'{path}' is a '{cfg.get('family')}' model, not dual_softmax")
    N = int(cfg["hidden"])
    model = DualSoftmaxWaveRNN(N, n_mels=int(cfg["n_mels"]), hop_length=int(cfg["hop_length"]),
                               output_hidden=int(cfg["output_hidden"]), upsample=cfg.get("upsample", "repeat"),
                               upsample_kernel=int(cfg.get("upsample_kernel", 0)),
                               learn_upsample=cfg.get("upsample") == "conv")
    if np.any(t.get("cond.bias", np.zeros(1)) != 0):
        raise ValueError(f"'{path}' has a nonzero cond.bias, which the training model has no place for")
    w_ih = np.concatenate([t["I.weight"], t["cond.weight"]], axis=1)
    state = {"gru.weight_ih_l0": _torch_order(w_ih, N), "gru.weight_hh_l0": _torch_order(t["R.weight"], N),
             "gru.bias_ih_l0": _torch_order(t["I.bias"], N),
             "gru.bias_hh_l0": _torch_order(t.get("R.bias", np.zeros(3 * N, np.float32)), N)}
    for name in ("O1", "O2", "O3", "O4"):
        state[f"{name}.weight"] = torch.from_numpy(np.asarray(t[f"{name}.weight"], np.float32))
        state[f"{name}.bias"] = torch.from_numpy(np.asarray(t[f"{name}.bias"], np.float32))
    if cfg.get("upsample") == "conv":
        state["upsample_weight"] = torch.from_numpy(np.asarray(t["upsample.weight"], np.float32))
    model.load_state_dict(state)
    return model, cfg
