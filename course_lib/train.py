"""Training utilities: device choice, seeding, the training loop, checkpoints.

Every function that touches tensors takes ``device=``; its default comes from
:func:`get_device`, so a notebook runs unchanged on a laptop CPU, a CUDA GPU or
an Apple-silicon Mac.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset
from tqdm.auto import tqdm

DEVICE_ENV = "COURSE_DEVICE"
_KNOWN_DEVICES = ("cpu", "cuda", "mps")


def get_device(prefer: str | None = None) -> torch.device:
    """The device the course computes on: CUDA if present, then Apple MPS, else CPU.

    ``prefer`` (or the ``COURSE_DEVICE`` environment variable, e.g. ``COURSE_DEVICE=cpu``)
    forces a choice; asking for a device that is not available raises ``ValueError``
    rather than failing later inside a kernel.
    """
    choice = prefer if prefer is not None else os.environ.get(DEVICE_ENV, "").strip().lower()
    if choice:
        kind = choice.split(":")[0]
        if kind not in _KNOWN_DEVICES:
            raise ValueError(
                f"device={choice!r} is not a device the course knows; expected one of "
                f"{', '.join(_KNOWN_DEVICES)} (set through prefer= or ${DEVICE_ENV})"
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={choice!r} was asked for, but torch sees no CUDA GPU")
        if kind == "mps" and not _mps_available():
            raise ValueError(f"device={choice!r} was asked for, but Apple MPS is not available")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def set_seed(seed: int = 0, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, numpy and torch (all devices) and return a fresh ``torch.Generator``.

    With ``deterministic=True`` torch is asked for deterministic kernels where it has
    them, so a notebook run twice prints the same numbers.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- learners' own np.random calls repeat too
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if torch.backends.cudnn.is_available():
            torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- training loop
# The loop returns a History; printing and plotting are separate calls. The only
# output is tqdm.auto's progress bar (a widget in JupyterLab, text elsewhere).


@dataclass
class History:
    """What :func:`fit` measured.

    Per epoch (one entry each): ``train_loss``, ``train_accuracy`` (running means over
    the epoch's batches, model in training mode), ``val_loss``, ``val_accuracy``
    (after the epoch, eval mode; NaN without validation data), ``epoch_time`` (s),
    ``lr`` (at the epoch's end). Per step: ``step_loss``, ``step_accuracy``.
    ``wall_time`` is the whole call in seconds; ``stopped_early`` and ``stop_reason``
    say whether a time budget or a callback ended it before ``epochs``.
    Accuracy is NaN where the targets are not class labels.
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_accuracy: list[float] = field(default_factory=list)
    wall_time: float = 0.0
    stopped_early: bool = False
    stop_reason: str | None = None

    @property
    def epochs(self) -> int:
        """Number of epochs run (a partial last epoch counts)."""
        return len(self.train_loss)

    def as_dict(self) -> dict:
        """Plain lists and numbers (e.g. to store with :func:`save_checkpoint`)."""
        return asdict(self)

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(no epochs)"
        return (
            f"History(epochs={self.epochs}, train_loss={self.train_loss[-1]:.4f}, "
            f"val_accuracy={self.val_accuracy[-1]:.4f}, wall_time={self.wall_time:.1f}s)"
        )


class Callback:
    """Hooks into :func:`fit`; override the ones you need (all are no-ops here).

    ``step`` counts optimisation steps from 0 over the whole fit. Returning True
    from :meth:`on_epoch_end` stops training after that epoch.
    """

    def on_fit_start(self, model: nn.Module, history: History) -> None: ...

    def on_epoch_start(self, epoch: int, model: nn.Module) -> None: ...

    def on_step_start(self, step: int, model: nn.Module) -> None: ...

    def on_after_backward(self, step: int, model: nn.Module) -> None: ...

    def on_step_end(self, step: int, model: nn.Module, loss: torch.Tensor) -> None: ...

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> bool | None: ...

    def on_fit_end(self, model: nn.Module, history: History) -> None: ...


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
        if not isinstance(every, int) or every <= 0:
            raise ValueError(f"every={every!r} must be a positive int")
        self.layers, self.every = layers, every
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
            norms.append(g.detach().norm() if g is not None else torch.tensor(float("nan")))
        self._pending.append(torch.stack([n.float().cpu() for n in norms]))
        self.steps.append(step)

    def on_epoch_end(self, epoch: int, model: nn.Module, history: History) -> None:
        self._flush()

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        self._flush()

    def _flush(self) -> None:
        for row in self._pending:
            for name, value in zip(self._modules, row.tolist(), strict=True):
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
        if not isinstance(every, int) or every <= 0:
            raise ValueError(f"every={every!r} must be a positive int")
        if any(not 0 <= p <= 100 for p in percentiles):
            raise ValueError(f"percentiles={tuple(percentiles)} must lie in [0, 100]")
        self.layers, self.every, self.max_values = layers, every, max_values
        self.percentiles = tuple(float(p) for p in percentiles)
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
            self._rows[name].append(row.cpu())

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
            name: (torch.stack(rows).numpy() if rows else np.empty((0, width)))
            for name, rows in self._rows.items()
        }


class EarlyStopping(Callback):
    """Stop when ``monitor`` (a History list, e.g. "val_loss") has not improved by
    ``min_delta`` for ``patience`` epochs. ``mode`` is "min" or "max"."""

    def __init__(
        self, monitor: str = "val_loss", *, patience: int = 3, min_delta: float = 0.0, mode="min"
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r} must be 'min' or 'max'")
        if monitor not in History.__dataclass_fields__:
            raise ValueError(f"monitor={monitor!r} is not a History field")
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


DataLike = Dataset | DataLoader | tuple | list


def _as_tensors(data: DataLike, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(x, y) tensors if ``data`` is a TensorDataset or a pair of arrays, else None."""
    if isinstance(data, TensorDataset):
        if len(data.tensors) != 2:
            raise ValueError(f"{name} must hold (inputs, targets); got {len(data.tensors)} tensors")
        return data.tensors[0], data.tensors[1]
    if isinstance(data, tuple | list):
        if len(data) != 2:
            raise ValueError(f"{name} must be a pair (inputs, targets); got {len(data)} items")
        x, y = (
            torch.as_tensor(np.asarray(a)) if not isinstance(a, torch.Tensor) else a for a in data
        )
        if x.shape[0] != y.shape[0]:
            raise ValueError(
                f"{name}: inputs have {x.shape[0]} examples but targets have {y.shape[0]}"
            )
        return x, y
    if isinstance(data, Dataset | DataLoader):
        return None
    raise TypeError(
        f"{name} is a {type(data).__name__}; expected a TensorDataset, a Dataset, a DataLoader "
        "or a pair (inputs, targets)"
    )


def _batches(
    data: DataLike,
    tensors: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None,
    device: torch.device,
):
    """Yield (x, y) batches on ``device``."""
    if tensors is not None:
        x, y = tensors
        n = x.shape[0]
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        order = order.to(x.device)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            yield x[idx].to(device, non_blocking=True), y[idx].to(device, non_blocking=True)
        return
    loader = (
        data
        if isinstance(data, DataLoader)
        else DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
    )
    for xb, yb in loader:
        yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)


def _split_output(out) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Main logits and auxiliary logits (GoogLeNet-style tuples in training mode)."""
    if isinstance(out, tuple | list):
        return out[0], list(out[1:])
    return out, []


def _correct(logits: torch.Tensor, y: torch.Tensor, ignore_index: int | None):
    """(number correct, number counted) as tensors, or None for non-label targets."""
    if y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or logits.ndim < 2:
        return None
    pred = logits.max(1).indices  # (N,) or (N, H, W); several times faster than argmax(1) on CPU
    if ignore_index is None:
        return (pred == y).sum(), y.numel()
    valid = y != ignore_index
    return ((pred == y) & valid).sum(), valid.sum()


def _make_optimizer(optimizer, model: nn.Module, lr: float, weight_decay: float):
    if optimizer is None:
        params = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if callable(optimizer):
        made = optimizer([p for p in model.parameters() if p.requires_grad])
        if not isinstance(made, torch.optim.Optimizer):
            raise TypeError(f"optimizer factory returned {type(made).__name__}, not an Optimizer")
        return made
    raise TypeError(
        f"optimizer={optimizer!r}: expected None (Adam), a torch.optim.Optimizer or a "
        "callable params -> Optimizer such as functools.partial(torch.optim.SGD, lr=0.1)"
    )


def _make_scheduler(scheduler, optimizer, total_steps: int):
    if scheduler is None:
        return None
    if scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    if scheduler == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=max(total_steps, 1)
        )
    if callable(scheduler):
        return scheduler(optimizer, total_steps)
    raise ValueError(
        f"scheduler={scheduler!r}: expected None, 'cosine', 'onecycle' or a callable "
        "(optimizer, total_steps) -> LRScheduler (stepped once per batch)"
    )


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a positive int")
    return int(value)


def _resolve_device(device) -> torch.device:
    """``device`` (None, a string or a torch.device) checked by :func:`get_device`."""
    if device is None:
        return get_device()
    if not isinstance(device, str | torch.device):
        raise TypeError(
            f"device={device!r} must be None, a string such as 'cpu' or 'cuda', or a torch.device"
        )
    return get_device(prefer=str(device))


def _match_dtype(data, tensors, dtype: torch.dtype, name: str):
    """numpy float inputs (float64 by default) become the model's dtype; a torch tensor of
    another floating dtype is refused (torch would fail later with a matmul error)."""
    if tensors is None:
        return None
    x, y = tensors
    if not x.is_floating_point() or x.dtype == dtype:
        return tensors
    from_numpy = isinstance(data, tuple | list) and not isinstance(data[0], torch.Tensor)
    if from_numpy:
        return x.to(dtype), y
    raise TypeError(
        f"{name} inputs have dtype {x.dtype} but the model's parameters are {dtype}; "
        f"expected inputs of dtype {dtype}, e.g. x.to({dtype}) (or convert the model)"
    )


def _check_targets(logits: torch.Tensor, y: torch.Tensor, ignore_index, name: str) -> None:
    """Class-label targets for cross-entropy: integer labels in [0, number of outputs)."""
    if logits.ndim < 2:
        return
    if y.is_floating_point():
        if tuple(y.shape[1:]) == tuple(logits.shape[1:]):
            return  # class probabilities, shaped like the logits
        raise TypeError(
            f"{name} targets have dtype {y.dtype}; expected integer class labels for "
            "cross-entropy, e.g. y.long() (or class probabilities shaped like the outputs)"
        )
    labels = y if ignore_index is None else y[y != ignore_index]
    if labels.numel() == 0:
        return
    lo, hi, classes = int(labels.min()), int(labels.max()), logits.shape[1]
    if lo < 0 or hi >= classes:
        raise ValueError(
            f"{name} targets hold labels in [{lo}, {hi}] but the model gives {classes} "
            f"outputs per example; expected labels in [0, {classes}) (does the model's "
            "num_classes match the data?)"
        )


def fit(
    model: nn.Module,
    train_data: DataLike,
    val_data: DataLike | None = None,
    *,
    epochs: int,
    optimizer=None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    scheduler=None,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 64,
    time_budget_s: float | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    aux_weight: float = 0.3,
    callbacks: Sequence[Callback] = (),
    seed: int | None = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``; return a :class:`History`.

    Data: a ``TensorDataset``, a pair ``(inputs, targets)`` of tensors or arrays
    (batched by indexing, the fast path), any ``Dataset`` or a ``DataLoader``.
    Inputs (N, C, H, W); targets (N,) class labels, or (N, H, W) for segmentation.

    - ``optimizer``: None for Adam(``lr``, ``weight_decay``), an Optimizer, or a
      callable params -> Optimizer. ``scheduler``: None, "cosine", "onecycle" or a
      callable (optimizer, total_steps) -> scheduler; stepped after every batch.
    - ``loss_fn`` defaults to cross-entropy. Models that return a tuple in training
      mode (GoogLeNet with auxiliary heads) are trained on
      loss(main) + ``aux_weight`` * sum(loss(aux)).
    - ``transform`` (e.g. :class:`course_lib.data.Augment`) is applied to each
      training batch of inputs on the device.
    - ``time_budget_s`` stops training after the step that exceeds it (the partial
      epoch is still validated and recorded).
    - ``seed`` seeds the shuffling and torch's global generator (dropout,
      augmentation); None leaves the global state alone. The model's weights are
      not touched: initialise them (after ``set_seed``) before calling fit.
    - ``progress=False`` silences the progress bar, the only output.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    if time_budget_s is not None and (
        isinstance(time_budget_s, bool)
        or not isinstance(time_budget_s, int | float | np.integer | np.floating)
        or not time_budget_s > 0
    ):
        raise ValueError(
            f"time_budget_s={time_budget_s!r} must be a positive number (seconds) or None"
        )
    device = _resolve_device(device)
    start = time.perf_counter()
    model.to(device)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    ignore_index = getattr(loss_fn, "ignore_index", None)
    labels_loss = isinstance(loss_fn, nn.CrossEntropyLoss | nn.NLLLoss)
    train_tensors = _as_tensors(train_data, "train_data")
    val_tensors = _as_tensors(val_data, "val_data") if val_data is not None else None
    param = next(model.parameters(), None)
    if param is not None and param.is_floating_point():
        train_tensors = _match_dtype(train_data, train_tensors, param.dtype, "train_data")
        val_tensors = _match_dtype(val_data, val_tensors, param.dtype, "val_data")
    if train_tensors is not None:
        train_tensors = tuple(t.to(device) for t in train_tensors)
    if seed is not None:
        torch.manual_seed(seed)
        shuffle_gen = torch.Generator().manual_seed(seed)
    else:
        shuffle_gen = None
    n_train = train_tensors[0].shape[0] if train_tensors is not None else len(train_data)
    if n_train == 0:
        raise ValueError("train_data is empty; expected at least one example")
    steps_per_epoch = (
        math.ceil(n_train / batch_size) if not isinstance(train_data, DataLoader) else n_train
    )
    opt = _make_optimizer(optimizer, model, lr, weight_decay)
    sched = _make_scheduler(scheduler, opt, steps_per_epoch * epochs)

    history = History()
    for cb in callbacks:
        cb.on_fit_start(model, history)
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=True)
    step = 0
    try:
        for epoch in bar:
            t_epoch = time.perf_counter()
            model.train()
            for cb in callbacks:
                cb.on_epoch_start(epoch, model)
            losses, corrects, counts = [], [], []
            for xb, yb in _batches(
                train_data,
                train_tensors,
                batch_size=batch_size,
                shuffle=True,
                generator=shuffle_gen,
                device=device,
            ):
                for cb in callbacks:
                    cb.on_step_start(step, model)
                if transform is not None:
                    xb = transform(xb)
                logits, aux = _split_output(model(xb))
                if step == 0 and labels_loss:
                    all_y = train_tensors[1] if train_tensors is not None else yb
                    _check_targets(logits, all_y, ignore_index, "train_data")
                loss = loss_fn(logits, yb)
                total = loss + aux_weight * sum(loss_fn(a, yb) for a in aux) if aux else loss
                opt.zero_grad(set_to_none=True)
                total.backward()
                for cb in callbacks:
                    cb.on_after_backward(step, model)
                opt.step()
                if sched is not None:
                    sched.step()
                losses.append(loss.detach())
                hit = _correct(logits.detach(), yb, ignore_index)
                if hit is not None:
                    corrects.append(hit[0])
                    counts.append(hit[1])
                for cb in callbacks:
                    cb.on_step_end(step, model, loss.detach())
                step += 1
                if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
                    history.stopped_early, history.stop_reason = True, "time budget"
                    break
            # one device sync per epoch: the per-step numbers arrive together
            step_loss = torch.stack(losses).float().cpu().tolist()
            if counts:
                c = torch.stack([torch.as_tensor(v) for v in corrects]).cpu().double()
                n = torch.stack([torch.as_tensor(v) for v in counts]).cpu().double()
                step_acc = (c / n.clamp(min=1)).tolist()
                epoch_acc = float(c.sum() / n.sum().clamp(min=1))
            else:
                step_acc, epoch_acc = [math.nan] * len(step_loss), math.nan
            history.step_loss += step_loss
            history.step_accuracy += step_acc
            history.train_loss.append(float(np.mean(step_loss)))
            history.train_accuracy.append(epoch_acc)
            if val_data is not None:
                scores = evaluate(
                    model,
                    val_data,
                    loss_fn=loss_fn,
                    device=device,
                    batch_size=max(batch_size, 256),
                    _tensors=val_tensors,
                )
                history.val_loss.append(scores["loss"])
                history.val_accuracy.append(scores["accuracy"])
            else:
                history.val_loss.append(math.nan)
                history.val_accuracy.append(math.nan)
            history.lr.append(float(opt.param_groups[0]["lr"]))
            history.epoch_time.append(time.perf_counter() - t_epoch)
            if progress:
                bar.set_postfix(
                    loss=f"{history.train_loss[-1]:.3f}", val_acc=f"{history.val_accuracy[-1]:.3f}"
                )
            stop = False
            for cb in callbacks:
                stop = bool(cb.on_epoch_end(epoch, model, history)) or stop
            if stop and not history.stopped_early and epoch < epochs - 1:
                history.stopped_early, history.stop_reason = True, "callback"
            if history.stopped_early:
                break
    finally:
        bar.close()
        history.wall_time = time.perf_counter() - start
        for cb in callbacks:
            cb.on_fit_end(model, history)
    return history


@torch.no_grad()
def predict(
    model: nn.Module,
    data: DataLike | torch.Tensor,
    *,
    device: torch.device | str | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Model outputs (eval mode) for a tensor of inputs or a dataset, concatenated on ``device``."""
    device = _resolve_device(device)
    if isinstance(data, torch.Tensor | np.ndarray):
        x = torch.as_tensor(data)
        data = (x, torch.zeros(x.shape[0]))
    tensors = _as_tensors(data, "data")
    was_training = model.training
    model.to(device).eval()
    try:
        outs = [
            _split_output(model(xb))[0]
            for xb, _ in _batches(
                data, tensors, batch_size=batch_size, shuffle=False, generator=None, device=device
            )
        ]
    finally:
        model.train(was_training)
    return torch.cat(outs)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: DataLike,
    *,
    loss_fn: Callable | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 256,
    _tensors=None,
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` (eval mode) on ``data``: {"loss", "accuracy"}.

    Accuracy is the fraction of correct labels (of pixels, for segmentation targets),
    NaN when the targets are not labels. The model's train/eval mode is restored.
    """
    device = _resolve_device(device)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    ignore_index = getattr(loss_fn, "ignore_index", None)
    tensors = _tensors if _tensors is not None else _as_tensors(data, "data")
    was_training = model.training
    model.to(device).eval()
    total_loss, n_examples = 0.0, 0
    correct = counted = 0
    labels = True
    try:
        for xb, yb in _batches(
            data, tensors, batch_size=batch_size, shuffle=False, generator=None, device=device
        ):
            logits = _split_output(model(xb))[0]
            total_loss += float(loss_fn(logits, yb)) * xb.shape[0]
            n_examples += xb.shape[0]
            hit = _correct(logits, yb, ignore_index)
            if hit is None:
                labels = False
            else:
                correct += int(hit[0])
                counted += int(hit[1])
    finally:
        model.train(was_training)
    if n_examples == 0:
        raise ValueError("data is empty: nothing to evaluate")
    accuracy = correct / max(counted, 1) if labels else math.nan
    return {"loss": total_loss / n_examples, "accuracy": accuracy}


# --------------------------------------------------------------------------- checkpoints


_PLAIN = (int, float, bool, str, type(None))


def _check_plain(value, where: str) -> None:
    """Refuse metadata that ``torch.load(weights_only=True)`` could not read back."""
    if type(value) in _PLAIN or isinstance(value, torch.Tensor):
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if type(value) in (dict, OrderedDict):
        for k, item in value.items():
            if type(k) not in (str, int):
                raise TypeError(
                    f"metadata {where!r} has a key {k!r} of type {type(k).__name__}; "
                    "expected str or int keys"
                )
            _check_plain(item, f"{where}[{k!r}]")
        return
    raise TypeError(
        f"metadata {where!r} is a {type(value).__module__}.{type(value).__name__}, which "
        "torch.load(weights_only=True) cannot read back; expected tensors, int, float, bool, "
        "str, None or lists/tuples/dicts of those; convert it first, e.g. "
        "history=h.as_dict(), array.tolist() or torch.as_tensor(array)"
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    **metadata,
) -> Path:
    """Save the model's (and optimizer's) state dict plus plain ``metadata`` to ``path``.

    Only tensors, numbers, strings, lists and dicts are stored, so the file loads with
    ``torch.load(..., weights_only=True)``; e.g. ``history=h.as_dict()``.
    """
    for key, value in metadata.items():
        _check_plain(value, key)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "metadata": metadata,
    }
    torch.save(state, path)
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str | None = None,
) -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``) in place.

    Reads with ``weights_only=True`` (no arbitrary code runs); returns the metadata.
    """
    device = _resolve_device(device)
    state = torch.load(Path(path), map_location=device, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a course checkpoint (no 'model' entry)")
    model.load_state_dict(state["model"])
    model.to(device)
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return state.get("metadata") or {}
