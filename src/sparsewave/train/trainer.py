"""The training loop: teacher-forced dual-softmax (or Subscale) WaveRNN with gradual block pruning,
checkpoints that resume exactly, a JSON-lines log and periodic export to ``model.sw``."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .._atomic import atomic_write
from .._blocks import format_block, parse_block
from .._format import format_duration
from ..audio.emphasis import check_preemphasis
from .data import DEFAULT_MEL, CropSampler, find_wavs, fixed_crops, load_clips, split_holdout
from .model import LN2, DualSoftmaxWaveRNN, export_model
from .prune import AfterMaskUpdates, BlockPruner, FixedMasks, PrunerKeepingRest

__all__ = ["TrainConfig", "train", "CHECKPOINT", "LOG", "MODEL", "load_checkpoint"]

CHECKPOINT = "checkpoint.pt"
LOG = "log.jsonl"
MODEL = "model.sw"
VALIDATION_LIST = "validation.txt"
CHECKPOINT_FORMAT = "sparsewave-train-checkpoint"


@dataclass
class TrainConfig:
    data: list = field(default_factory=list)   # WAV folders or files
    out: str = "run"
    arch: str = "dual_softmax"           # or "subscale" (docs/subscale.md)
    hidden: int = 384
    output_hidden: Optional[int] = None
    upsample: str = "repeat"
    upsample_kernel: int = 0
    learn_upsample: bool = False
    sparsity: float = 0.9
    block: str = "4x4"
    prune_heads: bool = False
    prune_only: tuple = ()                # prune only these matrices (names or prefixes); default all
    prune_norm: str = "l2"
    prune_start: Optional[int] = None     # default: steps // 10
    prune_steps: Optional[int] = None     # default: steps // 2
    prune_every: int = 100
    steps: int = 10000
    batch: int = 16
    seq_frames: int = 8
    lr: float = 1e-3
    lr_final: Optional[float] = None      # cosine decay to this by the last step (default: constant)
    clip: float = 1.0                     # gradient-norm clip (0 = none)
    feedback_noise: float = 0.0           # max std of noise on the fed-back samples (data.perturb_feedback)
    coarse_noise_only: bool = False       # feedback noise in whole coarse steps, fine bytes kept
    preemphasis: float = 0.0              # model samples y[n] = x[n] - a x[n-1]; the engine de-emphasises
    val_clips: int = 4
    val_crops: int = 32
    val_every: int = 500
    log_every: int = 50
    export_every: int = 1000
    checkpoint_every: int = 500
    max_minutes: Optional[float] = None   # stop (checkpoint + export) after this much training time
    threads: Optional[int] = None
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", or "auto" (cuda when available)
    seed: int = 0
    fresh: bool = False                   # ignore an existing checkpoint
    mel: dict = field(default_factory=lambda: dict(DEFAULT_MEL))
    quiet: bool = False
    init: Optional[str] = None            # fine-tune this .sw file (fatchord family or dual softmax)
    freeze: str = "none"                  # fatchord fine-tuning: none, conditioning, all-but-recurrent
    keep_masks: bool = False              # with init: hold its zero weights at zero instead of block pruning
    keep_exports: bool = False            # also keep every export as exports/step_NNNNNN.sw
    quantize: Optional[str] = None        # "int8": quantization-aware training (the engine's int8 products)
    sub_tensors: int = 16                 # --arch subscale: B, F, C, D, E of docs/subscale.md
    horizon: int = 8
    context_channels: int = 64
    context_layers: int = 6
    context_features: int = 8
    fused: bool = False                   # --arch subscale: Fused Subscale (pairs share a four-part state)

    def resolved(self) -> "TrainConfig":
        c = dataclasses.replace(self)
        if c.prune_start is None:
            c.prune_start = c.steps // 10
        if c.prune_steps is None:
            c.prune_steps = c.steps // 2
        if c.lr_final is None:
            c.lr_final = c.lr
        c.block = format_block(parse_block(c.block))
        return c


def _lr_at(cfg: TrainConfig, step: int) -> float:
    if cfg.lr_final == cfg.lr or cfg.steps <= 0:
        return cfg.lr
    x = min(max(step / cfg.steps, 0.0), 1.0)
    return cfg.lr_final + (cfg.lr - cfg.lr_final) * 0.5 * (1.0 + math.cos(math.pi * x))


def _atomic_torch_save(obj, path: Path) -> None:
    with atomic_write(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path) -> dict:
    """A training checkpoint (plain tensors and containers; loaded with ``weights_only=True``)."""
    ck = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"'{path}' is not a sparsewave training checkpoint")
    return ck


ARCHS = ("dual_softmax", "subscale")
# Options the subscale recipe does not take (yet): what they change is not in docs/subscale.md's
# engine, or they rewrite inputs the subscale grid builds itself.
_NOT_WITH_SUBSCALE = {"init": "--init", "quantize": "--quantize", "preemphasis": "--preemphasis",
                      "feedback_noise": "--feedback-noise"}


def build_model(cfg: TrainConfig) -> DualSoftmaxWaveRNN:
    """A fresh dual-softmax or Subscale WaveRNN (fine-tuning starts from :func:`init_model` instead)."""
    if cfg.arch == "subscale":
        from .subscale_model import SubscaleWaveRNN

        return SubscaleWaveRNN(cfg.hidden, n_mels=int(cfg.mel["n_mels"]), hop_length=int(cfg.mel["hop_length"]),
                               sub_tensors=cfg.sub_tensors, horizon=cfg.horizon,
                               context_channels=cfg.context_channels, context_layers=cfg.context_layers,
                               context_features=cfg.context_features, output_hidden=cfg.output_hidden,
                               upsample=cfg.upsample, upsample_kernel=cfg.upsample_kernel,
                               learn_upsample=cfg.learn_upsample, fused=cfg.fused)
    return DualSoftmaxWaveRNN(cfg.hidden, n_mels=int(cfg.mel["n_mels"]), hop_length=int(cfg.mel["hop_length"]),
                              output_hidden=cfg.output_hidden, upsample=cfg.upsample,
                              upsample_kernel=cfg.upsample_kernel, learn_upsample=cfg.learn_upsample,
                              quantize=cfg.quantize)


def init_model(path):
    """(trainable model, the file's config) of a ``.sw`` weight file to fine-tune."""
    from ..weights import load_model_tensors
    from .fatchord_model import FatchordWaveRNN
    from .model import model_from_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--init: no such model file '{path}'")
    family = load_model_tensors(path)[1].get("family")
    if family == "fatchord":
        model = FatchordWaveRNN.from_file(path)
        return model, model.config
    if family == "dual_softmax":
        return model_from_file(path)
    raise ValueError(f"--init: '{path}' is a '{family}' model; fine-tuning supports fatchord and dual_softmax")


@torch.no_grad()
def evaluate(model: DualSoftmaxWaveRNN, batches) -> float:
    """Teacher-forced NLL in bits/sample over fixed batches (nan if none)."""
    total, count = 0.0, 0
    for b in batches:
        n = (b["c"] if "c" in b else b["labels"]).numel()
        total += float(model.loss(b)) * n
        count += n
    return total / count / LN2 if count else float("nan")


class _Stop:
    """SIGTERM / SIGINT: finish the current step, then checkpoint and export."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def __enter__(self):
        if hasattr(signal, "SIGTERM"):
            try:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                self._old = {}
        return self

    def _handle(self, signum, frame):
        if self.requested:  # second signal: give up at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _relative_to(path, folder: Path) -> str:
    """``path`` as seen from ``folder`` (both resolved), for logs that must not name the machine."""
    return os.path.relpath(Path(path).resolve(), Path(folder).resolve())


def train(cfg: TrainConfig, *, print_fn: Callable[[str], None] | None = None) -> dict:
    """Train (or resume) into ``cfg.out``; returns a summary dict (step, last losses, paths)."""
    out = Path(cfg.out)
    ck_path, log_path, model_path = out / CHECKPOINT, out / LOG, out / MODEL
    resume = None
    if ck_path.exists() and not cfg.fresh:
        resume = load_checkpoint(ck_path)
        saved = json.loads(resume["options"])
        cfg = dataclasses.replace(cfg)
        # A schedule left to its defaults continues as it was planned, even if --steps changes.
        for key in ("prune_start", "prune_steps", "lr_final"):
            if getattr(cfg, key) is None:
                setattr(cfg, key, saved.get(key))
        if cfg.init is None and saved.get("init"):  # a fine-tuning run resumes as one
            cfg.init = str((out / saved["init"]).resolve())
    cfg = cfg.resolved()
    say = print_fn or ((lambda s: None) if cfg.quiet else (lambda s: print(s, flush=True)))
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    out.mkdir(parents=True, exist_ok=True)
    if int(cfg.mel["hop_length"]) <= 0 or cfg.seq_frames < 1 or cfg.batch < 1 or cfg.steps < 0:
        raise ValueError("hop_length, --seq-frames and --batch must be positive, --steps >= 0")
    block = parse_block(cfg.block)
    if cfg.arch not in ARCHS:
        raise ValueError(f"--arch must be one of {', '.join(ARCHS)}, got {cfg.arch!r}")
    if cfg.arch == "subscale":
        for key, flag in _NOT_WITH_SUBSCALE.items():
            if getattr(cfg, key):
                raise ValueError(f"{flag} is not supported with --arch subscale")
    elif cfg.fused:
        raise ValueError("--fused needs --arch subscale")

    init_model_obj, init_cfg = (None, None)
    if cfg.init:
        init_model_obj, init_cfg = init_model(cfg.init)
        if cfg.preemphasis and init_cfg.get("family") == "fatchord":
            raise ValueError("--preemphasis: the fatchord family models audio as it is")
        cfg.mel = dict(init_cfg["mel"]) if "mel" in init_cfg else cfg.mel
        cfg.mel["sample_rate"] = int(init_cfg["sample_rate"])
        say(f"fine-tuning {cfg.init} ({init_cfg['family']}, {init_cfg['sample_rate']} Hz) on its own mel front end")
    fatchord = init_cfg is not None and init_cfg.get("family") == "fatchord"
    if cfg.quantize is not None:
        if cfg.quantize != "int8":
            raise ValueError(f"--quantize: only int8 is supported, got {cfg.quantize!r}")
        if block not in ((4, 4), (8, 4)) and not cfg.keep_masks:
            # 16x1-pruned matrices stay float32 in the engine (its cost model packs them 16x1).
            raise ValueError(f"--quantize int8 needs --block 4x4 or 8x4 (the int8 blocks), not {cfg.block}")
        if not fatchord:  # fatchord's int8 products take whole vectors, never halves of a state
            half = int(init_cfg["hidden"]) // 2 if init_cfg else cfg.hidden // 2
            width = int(init_cfg["output_hidden"]) if init_cfg else (cfg.output_hidden or cfg.hidden // 2)
            if half % 4 or width % 4:
                # The engine quantizes a product's input over its padded columns (a multiple of 4), so
                # with ragged widths its scale also sees the neighbouring state values.
                raise ValueError(f"--quantize int8 needs hidden / 2 and --output-hidden to be multiples of 4 "
                                 f"(got {2 * half} and {width})")
        if init_model_obj is not None:
            init_model_obj.quantize = cfg.quantize
    if resume is not None:
        arch = json.loads(resume["architecture"])
        mel = json.loads(resume["mel"])
        if mel != cfg.mel:
            say("note: using the checkpoint's mel settings")
            cfg.mel = mel

    # ---------------------------------------------------------------- data
    files = find_wavs(cfg.data)
    if not files:
        raise ValueError(f"no .wav files under {', '.join(map(str, cfg.data))}")
    train_files, val_files = split_holdout(files, cfg.val_clips)
    (out / VALIDATION_LIST).write_text("".join(f"{f}\n" for f in val_files))
    t0 = time.time()
    hop = int(cfg.mel["hop_length"])
    check_preemphasis(cfg.preemphasis)  # in the engine's float32 terms, before hours of training
    crop_fn = None
    if fatchord:
        from .fatchord_data import label_crop, load_label_clips

        crop_fn = label_crop
        train_clips = load_label_clips(train_files, init_cfg, min_frames=cfg.seq_frames)
        val_clips = load_label_clips(val_files, init_cfg, min_frames=cfg.seq_frames)
    else:
        train_clips = load_clips(train_files, cfg.mel, min_frames=cfg.seq_frames, preemphasis=cfg.preemphasis)
        val_clips = load_clips(val_files, cfg.mel, min_frames=cfg.seq_frames, preemphasis=cfg.preemphasis)
    if not train_clips:
        raise ValueError(f"no training clip is at least {cfg.seq_frames} frames ({cfg.seq_frames * hop} samples) long")
    n_samples = sum(c.samples for c in train_clips)
    say(f"data: {len(train_clips)} training clips ({n_samples / int(cfg.mel['sample_rate']) / 60:.1f} min), "
        f"{len(val_clips)} validation clips, features in {time.time() - t0:.1f} s")

    # ---------------------------------------------------------------- model
    torch.manual_seed(cfg.seed)
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if cfg.device == "auto" else cfg.device))
    model = (init_model_obj if init_model_obj is not None else build_model(cfg)).to(device)
    frozen = model.freeze(cfg.freeze) if fatchord else []
    if cfg.freeze != "none" and not fatchord:
        raise ValueError("--freeze applies to fine-tuning a fatchord-family model (--init)")
    if resume is not None and arch != model.architecture():
        raise ValueError(f"checkpoint {ck_path} holds a different model ({arch}); pass the options it was started with, --fresh, or another -o folder")
    ctx = model.context_frames
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    if cfg.keep_masks:
        if not cfg.init:
            raise ValueError("--keep-masks keeps the zero pattern of an --init model; give --init")
        pruner = FixedMasks(model, prune_heads=True)
    else:
        pruner = BlockPruner(model, sparsity=cfg.sparsity, block=block, start=cfg.prune_start, steps=cfg.prune_steps,
                             every=cfg.prune_every, prune_heads=cfg.prune_heads, norm=cfg.prune_norm,
                             only=cfg.prune_only)
        if cfg.init:  # the matrices not re-pruned keep the init model's zeros, not growing dense
            pruner = PrunerKeepingRest(pruner, model)
    rng = np.random.default_rng(cfg.seed)
    step, elapsed_before = 0, 0.0
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        pruner.load_state_dict(resume["pruner"])
        rng.bit_generator.state = json.loads(resume["rng"]["numpy"])
        torch.set_rng_state(resume["rng"]["torch"])
        step = int(resume["step"])
        elapsed_before = float(resume.get("elapsed", 0.0))
        say(f"resumed from {ck_path} at step {step}")
        if step > pruner.end and pruner.below_target():
            pruner.update(step)  # masks past the schedule's end: bring them up to the target
            say(f"masks raised to the target sparsity ({cfg.sparsity:.0%}, rounded up to whole blocks)")
    if device.type != "cpu":
        say(f"training on {device}")
    sampler = CropSampler(train_clips, frames=cfg.seq_frames, batch=cfg.batch, hop=hop, ctx=ctx, rng=rng,
                          feedback_noise=cfg.feedback_noise, coarse_noise_only=cfg.coarse_noise_only,
                          crop_fn=crop_fn)
    val_batches = fixed_crops(val_clips, n=cfg.val_crops, frames=cfg.seq_frames, hop=hop, ctx=ctx,
                              batch=cfg.batch, seed=cfg.seed + 1234, crop_fn=crop_fn)
    n_params = sum(p.numel() for p in model.parameters())
    if frozen:
        say(f"frozen ({cfg.freeze}): {len(frozen)} tensors, {sum(p.numel() for p in model.parameters() if not p.requires_grad):,} parameters")
    if cfg.keep_masks:
        say(f"model: hidden {model.hidden}, {n_params:,} parameters; keeping the zero weights of "
            f"{', '.join(pruner.names())} at zero ({pruner.current:.1%} of them)")
    else:
        say(f"model: hidden {model.hidden}, {n_params:,} parameters; "
            f"pruning {', '.join(pruner.names())} to {cfg.sparsity:.0%} in {cfg.block} blocks over steps "
            f"{cfg.prune_start}..{pruner.end} (every {cfg.prune_every})"
            + (f"; keeping the zero weights of {', '.join(pruner.kept_names())}"
               if isinstance(pruner, PrunerKeepingRest) and list(pruner.kept_names()) else ""))

    # The log and checkpoint travel with the run folder: paths in them are relative to it, never
    # absolute machine paths ("out" is the folder itself).
    options = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("quiet", "out")}
    options["data"] = [_relative_to(d, out) for d in cfg.data]
    if cfg.init:
        options["init"] = _relative_to(cfg.init, out)
    log_f = open(log_path, "a", buffering=1)

    def log(rec: dict) -> None:
        rec = {"time": round(time.time(), 3), **rec}
        log_f.write(json.dumps(rec) + "\n")

    last = {"train_bits": None, "val_bits": None}

    def save_checkpoint(elapsed: float) -> None:
        _atomic_torch_save({
            "format": CHECKPOINT_FORMAT, "version": 1, "step": step,
            "model": model.state_dict(), "optimizer": opt.state_dict(), "pruner": pruner.state_dict(),
            "rng": {"numpy": json.dumps(rng.bit_generator.state), "torch": torch.get_rng_state()},
            "architecture": json.dumps(model.architecture()), "mel": json.dumps(cfg.mel),
            "options": json.dumps(options), "elapsed": float(elapsed),
        }, ck_path)

    def export() -> None:
        info = {"step": step, "target_sparsity": cfg.sparsity,
                "block_sparsity": {k: round(v, 6) for k, v in pruner.block_sparsity().items()},
                "train_bits": last["train_bits"], "val_bits": last["val_bits"],
                "training_clips": len(train_clips), "recipe": "sparsewave.train"}
        if cfg.quantize:
            info["quantized_training"] = cfg.quantize
        if cfg.keep_masks:  # the init model's own zero pattern: not a block schedule
            del info["target_sparsity"], info["block_sparsity"]
            info["kept_masks_sparsity"] = {k: round(v, 6) for k, v in pruner.block_sparsity().items()}
        extra = {"training": info}
        if cfg.preemphasis:
            extra["preemphasis"] = float(cfg.preemphasis)
        if fatchord:
            from ..weights import save_model

            config = {k: v for k, v in init_cfg.items() if k not in ("training", "converted_from")}
            config["training"] = dict(info, recipe="sparsewave.train --init", frozen=cfg.freeze,
                                      init=Path(cfg.init).name,
                                      init_from=init_cfg.get("converted_from") or init_cfg.get("training"))
            model.cpu()
            save_model(model_path, model.export_tensors(), config)
            model.to(device)
        else:
            export_model(model, model_path, sample_rate=int(cfg.mel["sample_rate"]), block=block, mel=cfg.mel,
                         extra=extra)
        log({"event": "export", "step": step, "path": _relative_to(model_path, out)})
        if cfg.keep_exports:
            snap = out / "exports" / f"step_{step:06d}.sw"
            snap.parent.mkdir(exist_ok=True)
            with atomic_write(snap) as tmp:
                Path(tmp).write_bytes(model_path.read_bytes())

    log({"event": "resume" if resume is not None else "start", "step": step, "options": options,
         "train_clips": len(train_clips), "val_clips": [c.name for c in val_clips]})
    if resume is None and pruner.due(0):
        pruner.update(0)

    t_start = time.time()
    t_mark, step_mark = t_start, step
    acc, acc_n = 0.0, 0
    stopped_early = False
    val_timing = AfterMaskUpdates(cfg.prune_every)
    export_timing = AfterMaskUpdates(cfg.prune_every)
    with _Stop() as stop:
        try:
            while step < cfg.steps:
                for g in opt.param_groups:
                    g["lr"] = _lr_at(cfg, step)
                batch = sampler.sample()
                loss = model.loss(batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
                opt.step()
                step += 1
                pruned_now = pruner.step(step)
                if pruned_now and fatchord and model.quantize:
                    model.refresh_int8_columns()  # the engine's int8 set follows the new zero pattern
                bits = float(loss.detach()) / LN2
                if not math.isfinite(bits):
                    raise FloatingPointError(f"training loss became {bits} at step {step}; lower --lr or --clip")
                acc += bits
                acc_n += 1
                now = time.time()
                elapsed = elapsed_before + now - t_start
                if step % cfg.log_every == 0 or step == cfg.steps:
                    rate = (step - step_mark) / max(now - t_mark, 1e-9)
                    last["train_bits"] = acc / acc_n
                    eta = (cfg.steps - step) / rate if rate > 0 else float("inf")
                    log({"event": "train", "step": step, "train_bits": round(last["train_bits"], 5),
                         "lr": _lr_at(cfg, step), "sparsity": round(pruner.current, 6),
                         "steps_per_s": round(rate, 4), "elapsed_s": round(elapsed, 1)})
                    say(f"step {step}/{cfg.steps}  train {last['train_bits']:.3f} bits/sample  "
                        f"sparsity {pruner.current:.3f}  {rate:.2f} steps/s  "
                        f"elapsed {format_duration(elapsed)}  ETA {format_duration(eta) if math.isfinite(eta) else '?'}")
                    t_mark, step_mark, acc, acc_n = now, step, 0.0, 0
                if val_batches and (val_timing.due(step, step % cfg.val_every == 0, pruned_now, cfg.steps)
                                    or step == cfg.steps):
                    last["val_bits"] = evaluate(model, val_batches)
                    log({"event": "val", "step": step, "val_bits": round(last["val_bits"], 5),
                         "steps_since_mask_update": pruner.steps_since_update(step)})
                    say(f"step {step}/{cfg.steps}  validation {last['val_bits']:.3f} bits/sample")
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                    save_checkpoint(elapsed)
                if (cfg.export_every and export_timing.due(step, step % cfg.export_every == 0, pruned_now, cfg.steps)
                        and step < cfg.steps):
                    export()
                if stop.requested:
                    say(f"stopping at step {step} (signal)")
                    stopped_early = True
                    break
                if cfg.max_minutes is not None and elapsed >= cfg.max_minutes * 60:
                    say(f"stopping at step {step}: --max-minutes {cfg.max_minutes} reached")
                    stopped_early = True
                    break
        except KeyboardInterrupt:
            pruner.apply()
            save_checkpoint(elapsed_before + time.time() - t_start)
            log({"event": "interrupted", "step": step})
            log_f.close()
            raise
        except BaseException:
            log_f.close()  # keep the last good checkpoint
            raise
    elapsed = elapsed_before + time.time() - t_start
    save_checkpoint(elapsed)
    if last["val_bits"] is None and val_batches:
        last["val_bits"] = evaluate(model, val_batches)
        log({"event": "val", "step": step, "val_bits": round(last["val_bits"], 5)})
    export()
    log({"event": "end", "step": step, "stopped_early": stopped_early, "elapsed_s": round(elapsed, 1)})
    log_f.close()
    say(f"done at step {step}: {model_path} (validation {last['val_bits']} bits/sample)")
    return {"step": step, "train_bits": last["train_bits"], "val_bits": last["val_bits"],
            "model": str(model_path), "checkpoint": str(ck_path), "log": str(log_path),
            "block_sparsity": pruner.block_sparsity(), "stopped_early": stopped_early, "model_obj": model,
            "pruner": pruner}
