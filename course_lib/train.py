"""The training loop: :func:`fit`, :func:`evaluate`, :func:`predict` and the :class:`History`.

This is the whole loop a learner needs to read (lesson 05 shows it): for each epoch,
for each batch, forward, loss, ``zero_grad``, ``backward``, ``step``; then measure on
the validation data. Everything else lives next door: the data plumbing in
:mod:`course_lib.batching`, the callbacks in :mod:`course_lib.callbacks`, checkpoints in
:mod:`course_lib.checkpoints`, device and seeding in :mod:`course_lib.device`.

Every function takes ``device=`` (default :func:`course_lib.device.get_device`), so a
notebook runs unchanged on a laptop CPU, a CUDA GPU or an Apple-silicon Mac.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm as widget_or_text_bar
from tqdm.std import tqdm as text_bar

from course_lib.batching import (
    DataLike,
    as_tensors,
    batches,
    check_targets,
    count_correct,
    match_dtype,
)
from course_lib.device import resolve_device
from course_lib.frontend import in_colab
from course_lib.validate import check_bool, check_int, check_number

__all__ = ["Callback", "History", "evaluate", "fit", "predict"]

# The loop returns a History; printing and plotting are separate calls. The only
# output is a progress bar: tqdm.auto's (a widget in JupyterLab and VS Code, text
# elsewhere), and a text bar on Colab, where tqdm's widget bar stays blank.


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


def _split_output(out) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Main logits and auxiliary logits (GoogLeNet-style tuples in training mode)."""
    if isinstance(out, tuple | list):
        return out[0], list(out[1:])
    return out, []


def _prepare(model: nn.Module, data: DataLike, name: str, device: torch.device):
    """``data`` checked once and, for tensors, moved to ``device`` in the model's dtype."""
    tensors = as_tensors(data, name)
    param = next(model.parameters(), None)
    if tensors is not None and param is not None and param.is_floating_point():
        from_numpy = isinstance(data, tuple | list) and not isinstance(data[0], torch.Tensor)
        tensors = match_dtype(tensors, param.dtype, name, cast=from_numpy)
    if tensors is not None:
        tensors = tuple(t.to(device) for t in tensors)
    return tensors


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model is a {type(model).__name__}; expected a torch.nn.Module")


_FLOAT32_MAX = float(torch.finfo(torch.float32).max)
_STEP_SIZE = "a positive number that fits in float32 (<= 3.4e38)"


def _check_loss(loss_fn) -> Callable:
    """``loss_fn`` as given, or cross-entropy for None; anything not callable is refused."""
    if loss_fn is None:
        return nn.CrossEntropyLoss()
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn={loss_fn!r} must be None (cross-entropy) or a callable "
            "(outputs, targets) -> loss, e.g. torch.nn.MSELoss()"
        )
    return loss_fn


def _check_callbacks(callbacks) -> tuple[Callback, ...]:
    """``callbacks`` as a tuple of Callback objects (None: no callbacks)."""
    if callbacks is None:
        return ()
    if isinstance(callbacks, Callback | str | bytes | dict):
        raise TypeError(
            f"callbacks={callbacks!r} must be a list of Callback objects (or None), not a "
            f"{type(callbacks).__name__}"
        )
    try:
        found = tuple(callbacks)
    except TypeError:
        raise TypeError(
            f"callbacks={callbacks!r} must be a list of Callback objects (or None), not a "
            f"{type(callbacks).__name__}"
        ) from None
    if not all(isinstance(c, Callback) for c in found):
        raise TypeError(f"callbacks={callbacks!r} must be a list of Callback objects")
    return found


def _forward(model: nn.Module, xb: torch.Tensor, name: str, *, first: bool):
    """``model(xb)``; on the first batch, a model that cannot take the data's inputs
    (a shape error) is reported as a ``ValueError`` naming the data (``name``)."""
    if not first:
        return model(xb)
    try:
        return model(xb)
    except torch.OutOfMemoryError:
        raise
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"{name}: the model cannot take a batch of its inputs, shape {tuple(xb.shape)} "
            f"({type(err).__name__}: {err})"
        ) from err


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
    callbacks: Sequence[Callback] | None = (),
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
    - ``callbacks``: a list of :class:`Callback` objects; None means none.
    - ``progress=False`` silences the progress bar, the only output.

    Arguments are checked before training starts; data the model cannot take (inputs
    of the wrong shape) raise a ``ValueError`` naming ``train_data`` or ``val_data``
    at the first batch.
    """
    _check_model(model)
    epochs = check_int("epochs", epochs, minimum=1)
    lr = check_number("lr", lr, positive=True, maximum=_FLOAT32_MAX, what=_STEP_SIZE)
    weight_decay = check_number(
        "weight_decay", weight_decay, minimum=0.0, maximum=_FLOAT32_MAX,
        what="a number >= 0 that fits in float32 (<= 3.4e38)",
    )  # fmt: skip
    loss_fn = _check_loss(loss_fn)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    aux_weight = check_number("aux_weight", aux_weight, minimum=0)
    progress = check_bool("progress", progress)
    if time_budget_s is not None:
        time_budget_s = check_number(
            "time_budget_s", time_budget_s, positive=True, what="a positive number (seconds)"
        )
    if seed is not None:
        seed = check_int("seed", seed, minimum=0)
    if transform is not None and not callable(transform):
        raise TypeError(f"transform={transform!r} must be None or a callable batch -> batch")
    callbacks = _check_callbacks(callbacks)
    device = resolve_device(device)
    start = time.perf_counter()
    model.to(device)
    ignore_index = getattr(loss_fn, "ignore_index", None)
    labels_loss = isinstance(loss_fn, nn.CrossEntropyLoss | nn.NLLLoss)
    train_tensors = _prepare(model, train_data, "train_data", device)
    val_tensors = _prepare(model, val_data, "val_data", device) if val_data is not None else None
    if seed is not None:
        torch.manual_seed(seed)
    shuffle_gen = torch.Generator().manual_seed(seed) if seed is not None else None
    n_train = train_tensors[0].shape[0] if train_tensors is not None else len(train_data)
    if n_train == 0:
        raise ValueError("train_data is empty; expected at least one example")
    if val_tensors is not None and val_tensors[0].shape[0] == 0:
        raise ValueError("val_data is empty; expected at least one example (or None)")
    steps_per_epoch = math.ceil(n_train / batch_size) if train_tensors is not None else n_train
    opt = _make_optimizer(optimizer, model, lr, weight_decay)
    sched = _make_scheduler(scheduler, opt, steps_per_epoch * epochs)

    history = History()
    for cb in callbacks:
        cb.on_fit_start(model, history)
    make_bar = text_bar if in_colab() else widget_or_text_bar
    bar = make_bar(range(epochs), desc="epochs", disable=not progress, leave=True)
    step = 0
    try:
        for epoch in bar:
            t_epoch = time.perf_counter()
            model.train()
            for cb in callbacks:
                cb.on_epoch_start(epoch, model)
            losses, hits = [], []
            for xb, yb in batches(
                train_data, train_tensors, batch_size=batch_size, shuffle=True,
                generator=shuffle_gen, device=device,
            ):  # fmt: skip
                for cb in callbacks:
                    cb.on_step_start(step, model)
                if transform is not None:
                    xb = transform(xb)
                logits, aux = _split_output(_forward(model, xb, "train_data", first=step == 0))
                if step == 0 and labels_loss:  # once: are the labels in range?
                    check_targets(logits, train_tensors[1] if train_tensors else yb,
                                  ignore_index, "train_data")  # fmt: skip
                    if val_tensors is not None:
                        check_targets(logits, val_tensors[1], ignore_index, "val_data")
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
                hits.append(count_correct(logits.detach(), yb, ignore_index))
                for cb in callbacks:
                    cb.on_step_end(step, model, loss.detach())
                step += 1
                if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
                    history.stopped_early, history.stop_reason = True, "time budget"
                    break
            _record_epoch(history, losses, hits)
            if val_data is not None:
                scores = _evaluate(
                    model, val_data, val_tensors, loss_fn, device, max(batch_size, 256),
                    "val_data",
                )  # fmt: skip
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


def _record_epoch(history: History, losses: list[torch.Tensor], hits: list) -> None:
    """Append one epoch's per-step numbers to ``history``: one device sync per epoch."""
    step_loss = torch.stack(losses).float().cpu().tolist()
    if hits and hits[0] is not None:
        c, n = torch.stack([torch.stack(h) for h in hits]).cpu().double().unbind(1)
        step_acc = (c / n.clamp(min=1)).tolist()
        epoch_acc = float(c.sum() / n.sum().clamp(min=1))
    else:
        step_acc, epoch_acc = [math.nan] * len(step_loss), math.nan
    history.step_loss += step_loss
    history.step_accuracy += step_acc
    history.train_loss.append(float(np.mean(step_loss)))
    history.train_accuracy.append(epoch_acc)


def _inputs_only(data, name: str):
    """A bare tensor or array of inputs (N, ...) as an (inputs, placeholder targets) pair."""
    if not isinstance(data, torch.Tensor | np.ndarray):
        return data
    if data.ndim == 0:
        raise ValueError(f"{name} is a 0-d array; expected inputs with a leading example axis")
    x = data if isinstance(data, torch.Tensor) else as_tensors((data, np.zeros(len(data))), name)[0]
    return x, torch.zeros(x.shape[0], device=x.device)  # targets on x's device: no mixed index


@torch.no_grad()
def predict(
    model: nn.Module,
    data: DataLike | torch.Tensor,
    *,
    device: torch.device | str | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Model outputs (eval mode) for a tensor of inputs or a dataset, concatenated on ``device``."""
    _check_model(model)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    device = resolve_device(device)
    data = _inputs_only(data, "data")
    model.to(device)
    tensors = _prepare(model, data, "data", device)
    if (tensors[0].shape[0] if tensors is not None else len(data)) == 0:
        raise ValueError("data is empty: nothing to predict")
    was_training = model.training
    model.eval()
    try:
        outs = [
            _split_output(_forward(model, xb, "data", first=i == 0))[0]
            for i, (xb, _) in enumerate(batches(
                data, tensors, batch_size=batch_size, shuffle=False, generator=None, device=device
            ))
        ]  # fmt: skip
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
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` (eval mode) on ``data``: {"loss", "accuracy"}.

    Accuracy is the fraction of correct labels (of pixels, for segmentation targets),
    NaN when the targets are not labels. The model's train/eval mode is restored.
    """
    _check_model(model)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    device = resolve_device(device)
    loss_fn = _check_loss(loss_fn)
    model.to(device)
    tensors = _prepare(model, data, "data", device)
    return _evaluate(model, data, tensors, loss_fn, device, batch_size, "data")


@torch.no_grad()
def _evaluate(model, data, tensors, loss_fn, device, batch_size: int, name: str) -> dict:
    """:func:`evaluate` on checked arguments; ``name`` is the data's, for messages."""
    ignore_index = getattr(loss_fn, "ignore_index", None)
    was_training = model.training
    model.eval()
    losses, corrects, counts, n_examples = [], [], [], 0
    labels = True
    try:
        for xb, yb in batches(
            data, tensors, batch_size=batch_size, shuffle=False, generator=None, device=device
        ):
            logits = _split_output(_forward(model, xb, name, first=n_examples == 0))[0]
            if n_examples == 0 and isinstance(loss_fn, nn.CrossEntropyLoss | nn.NLLLoss):
                check_targets(logits, tensors[1] if tensors is not None else yb, ignore_index, name)
            losses.append(loss_fn(logits, yb).detach() * xb.shape[0])  # stays on the device
            n_examples += xb.shape[0]
            hit = count_correct(logits, yb, ignore_index)
            if hit is None:
                labels = False
            else:
                corrects.append(hit[0])
                counts.append(hit[1])
    finally:
        model.train(was_training)
    if n_examples == 0:
        raise ValueError(f"{name} is empty: nothing to evaluate")
    total_loss = float(torch.stack(losses).double().sum())  # one sync for the whole pass
    if labels and counts:
        accuracy = float(torch.stack(corrects).sum()) / max(int(torch.stack(counts).sum()), 1)
    else:
        accuracy = math.nan
    return {"loss": total_loss / n_examples, "accuracy": accuracy}


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


