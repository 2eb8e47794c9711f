"""Callbacks for :func:`course_lib.train.fit`: watch or steer training from outside the loop.

- :class:`GradientNormRecorder`: each layer's weight-gradient norm per step (lesson 04's
  vanishing gradients, lesson 07's batch norm);
- :class:`ActivationRecorder`: percentiles of layer outputs per step (lesson 07);
- :class:`EarlyStopping`: stop when a monitored number stops improving (lesson 06).

Recorders keep their numbers on the training device and copy them to the host once
per epoch, so they add no per-step device synchronisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from course_lib.train import Callback, History
from course_lib.validate import check_choice, check_int, check_number

__all__ = ["ActivationRecorder", "Callback", "EarlyStopping", "GradientNormRecorder"]


def _weighted_layers(model: nn.Module) -> list[str]:
    return [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d | nn.Linear | nn.ConvTranspose2d) and name
    ]


def _activation_layers(model: nn.Module) -> list[str]:
    acts = (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Softplus)
    names = [name for name, m in model.named_modules() if isinstance(m, acts) and name]
    return names or _weighted_layers(model)


def _layer_names(layers) -> list[str] | None:
    if layers is None:
        return None
    if isinstance(layers, str):
        return [layers]
    if not isinstance(layers, Sequence) or not all(isinstance(n, str) for n in layers):
        raise TypeError(f"layers={layers!r} must be None or a list of module names (str)")
    return list(layers)


def _resolve(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        raise ValueError(
            f"layers {missing} are not in the model; names look like "
            f"{list(modules)[1:6]} (see model.named_modules())"
        )
    return {n: modules[n] for n in names}


class GradientNormRecorder(Callback):
    """Records the L2 norm of each layer's weight gradient after every ``every``-th backward.

    ``layers``: module names (``model.named_modules()``); default every Conv2d, Linear
    and ConvTranspose2d. After fit: ``steps`` (list of step numbers) and ``norms``
    (dict name -> list of floats, one per recorded step); :meth:`as_array` gives
    (steps, layers).
    """

    def __init__(self, layers: Sequence[str] | None = None, *, every: int = 1) -> None:
        every = check_int("every", every, minimum=1)
        self.layers, self.every = _layer_names(layers), every
        self.steps: list[int] = []
        self.norms: dict[str, list[float]] = {}
        self._pending: list[torch.Tensor] = []

    def on_fit_start(self, model: nn.Module, history: History) -> None:
        names = list(self.layers) if self.layers is not None else _weighted_layers(model)
        self._modules = _resolve(model, names)
        for name in names:
            self.norms.setdefault(name, [])

    def on_after_backward(self, step: int, model: nn.Module) -> None:
        if step % self.every:
            return
        norms = []
        for m in self._modules.values():
            g = getattr(m, "weight", None)
            g = g.grad if g is not None else None
            norms.append(g.detach().norm().float() if g is not None else None)
        dev = next((n.device for n in norms if n is not None), torch.device("cpu"))
        nan = torch.tensor(float("nan"), device=dev)
        # stays on the device; copied to the host once per epoch in _flush
        self._pending.append(torch.stack([nan if n is None else n for n in norms]))
        self.steps.append(step)

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> None:
        self._flush()

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = torch.stack(self._pending).cpu().tolist()  # one sync: (steps, layers)
        for row in rows:
            for name, value in zip(self._modules, row, strict=True):
                self.norms[name].append(value)
        self._pending.clear()

    def as_array(self) -> np.ndarray:
        """Gradient norms as an array (recorded steps, layers), layers in ``norms`` order."""
        return np.array([self.norms[n] for n in self.norms], dtype=np.float64).T


class ActivationRecorder(Callback):
    """Records statistics of layer outputs during training, every ``every``-th step.

    For each named layer (default: every activation module, else every weighted
    layer) the forward output of that step's batch is summarised by the given
    ``percentiles`` (default 15/50/85), its mean and its standard deviation, over at
    most ``max_values`` entries (an evenly strided sample). After fit:
    ``steps`` and ``stats[name]``: an array (recorded steps, len(percentiles) + 2),
    columns the percentiles, then mean and std.
    """

    def __init__(
        self,
        layers: Sequence[str] | None = None,
        *,
        percentiles: Sequence[float] = (15, 50, 85),
        every: int = 1,
        max_values: int = 100_000,
    ) -> None:
        every = check_int("every", every, minimum=1)
        max_values = check_int("max_values", max_values, minimum=1)
        if isinstance(percentiles, str) or not isinstance(percentiles, Sequence | np.ndarray):
            raise TypeError(f"percentiles={percentiles!r} must be a sequence of numbers")
        self.percentiles = tuple(
            check_number("percentiles", p, minimum=0, maximum=100, what="a number in [0, 100]")
            for p in percentiles
        )
        self.layers, self.every, self.max_values = _layer_names(layers), every, max_values
        self.steps: list[int] = []
        self._rows: dict[str, list[torch.Tensor]] = {}
        self._armed = False
        self._handles: list = []

    def on_fit_start(self, model: nn.Module, history: History) -> None:
        names = list(self.layers) if self.layers is not None else _activation_layers(model)
        for name, module in _resolve(model, names).items():
            self._rows.setdefault(name, [])
            self._handles.append(module.register_forward_hook(self._hook(name)))

    def _hook(self, name: str):
        def hook(module, inputs, output):
            if not self._armed or not isinstance(output, torch.Tensor):
                return
            flat = output.detach().flatten().float()
            if flat.numel() > self.max_values:
                flat = flat[:: -(-flat.numel() // self.max_values)]
            q = torch.tensor(self.percentiles, device=flat.device) / 100
            row = torch.cat([torch.quantile(flat, q), flat.mean()[None], flat.std()[None]])
            self._rows[name].append(row)  # on the device until stats is read

        return hook

    def on_step_start(self, step: int, model: nn.Module) -> None:
        self._armed = step % self.every == 0
        if self._armed:
            self.steps.append(step)

    def on_step_end(self, step: int, model: nn.Module, loss: torch.Tensor) -> None:
        self._armed = False

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @property
    def stats(self) -> dict[str, np.ndarray]:
        width = len(self.percentiles) + 2
        return {
            name: (torch.stack(rows).cpu().numpy() if rows else np.empty((0, width)))
            for name, rows in self._rows.items()
        }


class EarlyStopping(Callback):
    """Stop when ``monitor`` (a History list, e.g. "val_loss") has not improved by
    ``min_delta`` for ``patience`` epochs. ``mode`` is "min" or "max"."""

    def __init__(
        self, monitor: str = "val_loss", *, patience: int = 3, min_delta: float = 0.0, mode="min"
    ):
        check_choice("mode", mode, ("min", "max"))
        fields = tuple(k for k, v in History.__dataclass_fields__.items() if "list" in str(v.type))
        check_choice("monitor", monitor, fields)
        patience = check_int("patience", patience, minimum=1)
        min_delta = check_number("min_delta", min_delta, minimum=0)
        self.monitor, self.patience, self.min_delta, self.mode = monitor, patience, min_delta, mode
        self.best, self.wait = math.inf if mode == "min" else -math.inf, 0

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> bool:
        value = getattr(history, self.monitor)[-1]
        better = (
            value < self.best - self.min_delta
            if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if better:
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        return self.wait >= self.patience


