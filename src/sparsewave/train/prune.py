"""The paper's gradual block pruning (Kalchbrenner et al. 2018, section 4.1; after Zhu & Gupta 2017).

Every ``every`` steps between ``start`` and ``start + steps`` each pruned matrix gets a new
block mask: its blocks (4x4 or 16x1) are ranked by magnitude (L2 norm or sum of |w| of the
block) and the weakest ``round(z_t * blocks)`` are zeroed, where

    z_t = Z * (1 - (1 - (t - start) / steps) ** 3)      for start <= t <= start + steps

(0 before, Z after). A block once pruned stays pruned. The masked weights are zeroed after
every optimizer step (:meth:`BlockPruner.apply`), so they are zero in every forward pass.

The three N x N gate matrices of the recurrent weights (u, r, e) are pruned separately, each
to the target; optionally the output layers O1..O4 too.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

from .._blocks import parse_block  # re-exported: the one block-shape parser

__all__ = ["scheduled_sparsity", "blocks_to_prune", "block_scores", "select_targets", "BlockPruner", "FixedMasks",
           "PrunerKeepingRest", "parse_block"]


def scheduled_sparsity(step: int, target: float, start: int, steps: int) -> float:
    """z_t = Z (1 - (1 - (t - t0) / S)^3) for t0 <= t <= t0 + S, 0 before, Z after."""
    if step < start:
        return 0.0
    if steps <= 0 or step >= start + steps:
        return float(target)
    return float(target) * (1.0 - (1.0 - (step - start) / steps) ** 3)


def blocks_to_prune(sparsity: float, n_blocks: int) -> int:
    """How many of ``n_blocks`` blocks are zero at ``sparsity``: rounded up, so that a model
    trained to Z is at least Z sparse (the tolerance keeps 0.5 * 10 at 5, not 6)."""
    return max(0, min(n_blocks, int(math.ceil(sparsity * n_blocks - 1e-9))))


def block_scores(w: torch.Tensor, block, norm: str = "l2") -> torch.Tensor:
    """Magnitude of each (br, bc) block of 2-D ``w``: a (ceil(rows/br), ceil(cols/bc)) tensor.
    Edge blocks are zero-padded."""
    br, bc = block
    rows, cols = w.shape
    R, C = -(-rows // br), -(-cols // bc)
    x = w.detach().float()
    if R * br != rows or C * bc != cols:
        x = torch.nn.functional.pad(x, (0, C * bc - cols, 0, R * br - rows))
    x = x.reshape(R, br, C, bc)
    if norm == "l2":
        return x.pow(2).sum(dim=(1, 3)).sqrt()
    if norm == "abs":
        return x.abs().sum(dim=(1, 3))
    raise ValueError(f"norm must be 'l2' or 'abs', got {norm!r}")


def select_targets(targets: dict, only) -> dict:
    """The prune targets named by ``only`` (names or dotted prefixes: "rnn1.hh" selects
    rnn1.hh.r, rnn1.hh.z, rnn1.hh.n), or all of them when ``only`` is empty. A name that
    selects nothing is an error, so that a typo never leaves a matrix silently unpruned."""
    if not only:
        return targets
    chosen = {}
    for want in only:
        hits = [n for n in targets if n == want or n.startswith(want + ".")]
        if not hits:
            raise ValueError(f"--prune-only: {want!r} names none of this model's prunable matrices "
                             f"({', '.join(targets)})")
        chosen.update((n, targets[n]) for n in hits)
    return {n: t for n, t in targets.items() if n in chosen}  # the model's order


def _expand(block_mask: torch.Tensor, block, shape) -> torch.Tensor:
    br, bc = block
    m = block_mask.repeat_interleave(br, 0).repeat_interleave(bc, 1)
    return m[:shape[0], :shape[1]].contiguous()


class BlockPruner:
    """Block masks for the model's recurrent gate matrices (and optionally O1..O4).

    ``targets`` are named (parameter, row slice) pairs: "R.u", "R.r", "R.e" (the GRU's z, r, n
    rows of ``weight_hh_l0``; file names) and "O1".."O4".
    """

    def __init__(self, model, *, sparsity: float, block=(4, 4), start: int = 0, steps: int = 0,
                 every: int = 100, prune_heads: bool = False, norm: str = "l2", only=None):
        if not 0.0 <= sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
        if every < 1:
            raise ValueError("prune every must be at least 1 step")
        if start < 0 or steps < 0:
            raise ValueError("prune start and steps must be >= 0")
        self.target = float(sparsity)
        self.block = parse_block(block)
        self.start, self.steps, self.every = int(start), int(steps), int(every)
        self.norm = norm
        block_scores(torch.zeros(1, 1), self.block, norm)  # validates norm
        # name -> (parameter, row slice): the model says which of its matrices may be pruned
        self.targets: dict[str, tuple[torch.nn.Parameter, slice]] = select_targets(
            dict(model.prune_targets(prune_heads)), only)
        self.masks: dict[str, torch.Tensor] = {}       # element masks (bool), True = kept
        self.block_masks: dict[str, torch.Tensor] = {}  # block masks (bool)
        for name, (p, rows) in self.targets.items():
            shape = p[rows].shape
            R, C = -(-shape[0] // self.block[0]), -(-shape[1] // self.block[1])
            self.block_masks[name] = torch.ones(R, C, dtype=torch.bool, device=p.device)
            self.masks[name] = torch.ones(shape, dtype=torch.bool, device=p.device)
        self.current = 0.0  # sparsity of the last mask update

    # -- schedule ----------------------------------------------------------
    def sparsity_at(self, step: int) -> float:
        return scheduled_sparsity(step, self.target, self.start, self.steps)

    @property
    def end(self) -> int:
        return self.start + self.steps

    def due(self, step: int) -> bool:
        """True if the masks are recomputed after optimizer step ``step``: every ``every`` steps
        from ``start`` up to ``start + steps``, and at ``start + steps`` itself."""
        return self.steps_since_update(step) == 0

    def steps_since_update(self, step: int) -> int | None:
        """Steps since the last mask update of the schedule at optimizer step ``step`` (0 on
        an update step); None outside the schedule."""
        if self.target == 0.0 or step < self.start or step > self.end:
            return None
        return 0 if step == self.end else (step - self.start) % self.every

    # -- masks -------------------------------------------------------------
    @torch.no_grad()
    def update(self, step: int) -> float:
        """Recompute every mask for the sparsity scheduled at ``step``; returns that sparsity."""
        z = self.sparsity_at(step)
        for name, (p, rows) in self.targets.items():
            scores = block_scores(p[rows], self.block, self.norm).flatten()
            old = self.block_masks[name].flatten()
            # Pruned blocks stay pruned: rank them below every live block.
            scores = torch.where(old, scores, torch.full_like(scores, -math.inf))
            k = blocks_to_prune(z, scores.numel())
            k = max(k, int((~old).sum()))
            keep = torch.ones_like(old)
            if k:
                order = torch.sort(scores, stable=True).indices
                keep[order[:k]] = False
            bm = keep.view_as(self.block_masks[name])
            self.block_masks[name] = bm
            self.masks[name] = _expand(bm, self.block, p[rows].shape)
        self.current = z
        self.apply()
        return z

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the masked weights (call after every optimizer step)."""
        for name, (p, rows) in self.targets.items():
            m = self.masks[name]
            if not bool(m.all()):
                p[rows].mul_(m.to(p.dtype))

    def below_target(self) -> bool:
        """True if a mask prunes fewer blocks than the final target asks (a checkpoint written
        when :func:`blocks_to_prune` rounded to the nearest block)."""
        return any(int((~bm).sum()) < blocks_to_prune(self.target, bm.numel()) for bm in self.block_masks.values())

    def step(self, step: int) -> bool:
        """After optimizer step ``step``: update the masks if due, then apply them. True if updated."""
        updated = self.due(step)
        if updated:
            self.update(step)
        else:
            self.apply()
        return updated

    # -- reporting, checkpoints -------------------------------------------
    def block_sparsity(self) -> dict[str, float]:
        """Fraction of zero blocks of each pruned matrix."""
        return {n: 1.0 - float(bm.float().mean()) for n, bm in self.block_masks.items()}

    def names(self) -> Iterable[str]:
        return self.targets.keys()

    def state_dict(self) -> dict:
        return {"block_masks": {n: bm.cpu().clone() for n, bm in self.block_masks.items()},
                "current": float(self.current), "block": list(self.block)}

    def load_state_dict(self, state: dict) -> None:
        if tuple(state["block"]) != self.block:
            raise ValueError(f"checkpoint was pruned with {state['block'][0]}x{state['block'][1]} blocks, "
                             f"not {self.block[0]}x{self.block[1]}")
        for name in self.targets:
            if name not in state["block_masks"]:
                raise ValueError(f"checkpoint has no mask for {name} (pruned with other options?)")
            p, rows = self.targets[name]
            bm = state["block_masks"][name].to(device=p.device, dtype=torch.bool)
            if bm.shape != self.block_masks[name].shape:
                raise ValueError(f"checkpoint mask of {name} has shape {tuple(bm.shape)}")
            self.block_masks[name] = bm
            self.masks[name] = _expand(bm, self.block, p[rows].shape)
        self.current = float(state["current"])
        self.apply()


class FixedMasks:
    """Keeps a model's own zero weights at zero (``--keep-masks``): fine-tuning a pruned model
    without changing its sparsity pattern. Same interface as :class:`BlockPruner`, whose block
    schedule it replaces; the masks are the nonzero pattern of the prune targets at the start."""

    def __init__(self, model, *, prune_heads: bool = True, exclude=()):
        skip = set(exclude)
        self.targets = {n: t for n, t in model.prune_targets(prune_heads).items() if n not in skip}
        self.masks = {n: (p[rows] != 0).detach().clone() for n, (p, rows) in self.targets.items()}
        self.current = self.sparsity()
        self.start = self.steps = self.end = 0

    def sparsity(self) -> float:
        total = sum(m.numel() for m in self.masks.values())
        return 1.0 - sum(int(m.sum()) for m in self.masks.values()) / max(total, 1)

    def due(self, step: int) -> bool:
        return False

    def update(self, step: int) -> float:
        self.apply()
        return self.current

    @torch.no_grad()
    def apply(self) -> None:
        for name, (p, rows) in self.targets.items():
            p[rows].mul_(self.masks[name].to(p.dtype))

    def step(self, step: int) -> bool:
        self.apply()
        return False

    def steps_since_update(self, step: int) -> int | None:
        return None  # no schedule

    def below_target(self) -> bool:
        return False

    def block_sparsity(self) -> dict[str, float]:
        """Fraction of zero weights of each masked matrix (its own pattern, not blocks)."""
        return {n: 1.0 - float(m.float().mean()) for n, m in self.masks.items()}

    def names(self) -> Iterable[str]:
        return self.targets.keys()

    def state_dict(self) -> dict:
        return {"fixed_masks": {n: m.cpu().clone() for n, m in self.masks.items()}, "current": self.current}

    def load_state_dict(self, state: dict) -> None:
        if "fixed_masks" not in state:
            raise ValueError("checkpoint was trained with block pruning, not --keep-masks")
        for name, (p, rows) in self.targets.items():
            self.masks[name] = state["fixed_masks"][name].to(device=p.device, dtype=torch.bool)
        self.current = float(state["current"])
        self.apply()


class PrunerKeepingRest:
    """A block schedule over some matrices while every other prune target keeps the zero
    weights it started with (fine-tuning a pruned model, ``--init``): re-pruning the recurrent
    matrix into new blocks must not let the output head or the input layer grow dense, which
    would silently change the model's cost. Same interface as :class:`BlockPruner`."""

    def __init__(self, scheduled: BlockPruner, model, *, prune_heads: bool = True):
        self.scheduled = scheduled
        self.fixed = FixedMasks(model, prune_heads=prune_heads, exclude=scheduled.names())

    def __getattr__(self, name):  # schedule, block and reporting come from the block pruner
        if name == "scheduled":  # not set yet (copying): never recurse
            raise AttributeError(name)
        return getattr(self.scheduled, name)

    def update(self, step: int) -> float:
        z = self.scheduled.update(step)
        self.fixed.apply()
        return z

    def apply(self) -> None:
        self.scheduled.apply()
        self.fixed.apply()

    def step(self, step: int) -> bool:
        updated = self.scheduled.step(step)
        self.fixed.apply()
        return updated

    def kept_names(self) -> Iterable[str]:
        return self.fixed.names()

    def state_dict(self) -> dict:
        return {**self.scheduled.state_dict(), "kept": self.fixed.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.scheduled.load_state_dict(state)
        if "kept" in state:
            self.fixed.load_state_dict(state["kept"])
        elif list(self.fixed.names()):
            raise ValueError(f"checkpoint has no kept zero patterns for {', '.join(self.fixed.names())} (written "
                             "before --init runs kept them, or without --init); start again with --fresh")


class AfterMaskUpdates:
    """When a validation or an export due on a mask update of a pruning schedule is taken:
    ``settle`` (half the prune interval) steps later instead. Right after an update the model
    has not recovered yet, so measuring then reads a pruning run's worst moments (a re-pruning
    of the default voice: 4.14 bits/sample on held-out crops at a mask update, 2.99 on the same
    crops 25 steps later)."""

    def __init__(self, prune_every: int):
        self.settle = max(1, int(prune_every) // 2)
        self.pending: int | None = None

    def due(self, step: int, scheduled: bool, pruned_now: bool, last_step: int) -> bool:
        if self.pending is not None and step >= self.pending:
            self.pending = None
            return True  # taken now even if this step updates again (a 1-step schedule)
        if scheduled and pruned_now and step < last_step:
            self.pending = min(step + self.settle, last_step)
            return False
        return scheduled
