"""Looking inside a trained CNN (lesson 13): what excites a unit, where the evidence lies.

* :func:`top_activating_patches`: the input patches (receptive-field crops) on which
  one channel of a layer responds most (Zeiler & Fergus; Girshick et al.).
* :func:`occlusion_map`: how much a class score drops when a grey square hides each
  part of the image (Zeiler & Fergus, "occlusion sensitivity").
* :func:`activation_maximization`: ``x* = argmax_{||x|| = rho} h_ij(theta, x)`` by
  projected gradient ascent on the input (Erhan et al.; Simonyan et al.).
* :func:`layer_output` and :func:`layer_receptive_field`: the building blocks.
  (:func:`course_lib.shapes.receptive_field` is the formula for a plain list of
  (kernel, stride) pairs; this one traces a model's own layers.)

``layer`` is a submodule of ``model`` or its dotted name (``"features.3"``), the
name ``model.named_modules()`` lists (a layer that runs more than once in a forward
pass counts with its first call). Outputs are captured with forward hooks, which
are removed afterwards, also when something fails. The model runs in eval mode and
every submodule's train/eval flag is restored afterwards; if ``device=`` differs from
where the model's parameters live, the model is moved there for the call and moved
back. ``device=None`` computes where the model already is (the course's default
device, :func:`course_lib.device.resolve_device`, for a model without parameters).
Results come back as CPU tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from course_lib.device import resolve_device
from course_lib.validate import (
    check_bool,
    check_int,
    check_number,
    check_pair,
    check_shape,
)

__all__ = [
    "ReceptiveField",
    "TopPatches",
    "layer_output",
    "layer_receptive_field",
    "top_activating_patches",
    "occlusion_map",
    "activation_maximization",
]


# ----------------------------------------------------------------------------- plumbing


class _StopForward(Exception):
    """Raised by a hook once the wanted layer has produced its output."""


def _model_device(model: nn.Module) -> torch.device | None:
    for t in list(model.parameters()) + list(model.buffers()):
        return t.device
    return None


def _model_dtype(model: nn.Module) -> torch.dtype:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


@contextmanager
def _prepared(model: Any, device: Any) -> Iterator[torch.device]:
    """Eval mode (and the requested device) for the duration; everything restored after."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modes = [(m, m.training) for m in model.modules()]
    current = _model_device(model)
    target = resolve_device(device) if device is not None or current is None else current
    moved = current is not None and not _same_device(current, target)
    if moved:
        model.to(target)
    model.eval()
    try:
        yield target
    finally:
        if moved:
            model.to(current)
        for m, mode in modes:
            m.training = mode


def _resolve_layer(model: nn.Module, layer: Any) -> nn.Module:
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.named_modules() if n]
            shown = ", ".join(names[:25]) + (" ..." if len(names) > 25 else "")
            raise ValueError(
                f"layer={layer!r} is not a submodule of the model; its layers are: {shown}"
            ) from None
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(
                f"layer {type(layer).__name__} is not a submodule of the model "
                f"(pass the model's own layer, or its name from model.named_modules())"
            )
        return layer
    raise TypeError(f"layer must be an nn.Module or a dotted name, got {type(layer).__name__}")


@contextmanager
def _capture(module: nn.Module, stop: bool) -> Iterator[dict[str, torch.Tensor]]:
    """Keep the module's first output of each forward in ``store["out"]``."""
    store: dict[str, torch.Tensor] = {}

    def hook(_mod: nn.Module, _inp: Any, out: Any) -> None:
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"the layer's output is a {type(out).__name__}, not a tensor; pick a layer "
                f"that returns one tensor"
            )
        store["out"] = out
        if stop:
            raise _StopForward

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def _forward(model: nn.Module, x: torch.Tensor, name: str) -> Any:
    """``model(x)``; torch's error for an input the model cannot take names ``name``."""
    try:
        return model(x)
    except RuntimeError as err:
        raise ValueError(
            f"{name} gives inputs of shape {tuple(x.shape)}, which the model cannot take: "
            f"{str(err).splitlines()[0]}"
        ) from err


def _run_to(
    model: nn.Module, x: torch.Tensor, store: dict[str, torch.Tensor], name: str
) -> torch.Tensor:
    store.pop("out", None)
    try:
        _forward(model, x, name)
    except _StopForward:
        pass
    if "out" not in store:
        raise ValueError("the layer was not called during the model's forward pass")
    return store["out"]


def _as_batch(images: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        if not (np.issubdtype(images.dtype, np.number) or images.dtype == bool):
            raise TypeError(f"{name} has dtype {images.dtype}; expected numbers")
        # a native-byte-order, C-ordered copy: torch takes no big-endian or negative strides
        images = torch.from_numpy(
            np.array(images, dtype=images.dtype.newbyteorder("="), order="C", copy=True)
        )
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch tensor or numpy array, got {type(images).__name__}"
        )
    if images.ndim == 3:
        images = images.unsqueeze(0)  # (C, H, W) -> (1, C, H, W)
    if images.ndim != 4:
        raise ValueError(
            f"{name} has shape {tuple(images.shape)}: expected (N, C, H, W) or (C, H, W)"
        )
    if images.numel() == 0:
        raise ValueError(f"{name} has shape {tuple(images.shape)}, which holds no image")
    if images.is_complex():
        raise TypeError(f"{name} has dtype {images.dtype}; expected real numbers")
    return images.to(dtype)


def _check_channel(channel: Any, n: int, where: str, name: str = "channel") -> int:
    what = f"an int in [0, {n}): {where} has {n} channels"
    return check_int(name, channel, minimum=0, maximum=n - 1, what=what)


# ----------------------------------------------------------------------------- features


@torch.no_grad()
def layer_output(
    model: nn.Module, layer: Any, images: Any, *, batch_size: int = 256, device: Any = None
) -> torch.Tensor:
    """The layer's output for every image: ``(N, C, H, W)`` images -> ``(N, ...)`` on the CPU.

    The forward pass stops at the layer, so the rest of the network is not run.
    Used for t-SNE of last-layer features (lesson 13).
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    with _prepared(model, device) as dev:
        target = _resolve_layer(model, layer)
        x = _as_batch(images, "images", _model_dtype(model))
        outs = []
        with _capture(target, stop=True) as store:
            for start in range(0, len(x), batch_size):
                batch = x[start : start + batch_size].to(dev)
                outs.append(_run_to(model, batch, store, "images").cpu())
        return torch.cat(outs)


# ----------------------------------------------------------------------------- receptive fields


class ReceptiveField(NamedTuple):
    """Where output unit (i, j) looks: rows ``i*stride[0] + start[0]`` to ``+ size[0]`` (exclusive).

    ``start`` can be negative (the field reaches into the padding); ``size``, ``stride``
    and ``start`` are (rows, columns) pairs in input pixels.
    """

    size: tuple[int, int]
    stride: tuple[int, int]
    start: tuple[int, int]

    def box(self, i: int, j: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), bottom/right exclusive, possibly outside the image."""
        top = i * self.stride[0] + self.start[0]
        left = j * self.stride[1] + self.start[1]
        return top, left, top + self.size[0], left + self.size[1]


_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


def _geometry(mod: nn.Module) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(effective kernel, stride, left padding) of a conv or pooling module, per axis."""
    k = check_pair("kernel_size", mod.kernel_size)
    s = check_pair("stride", mod.stride if mod.stride is not None else mod.kernel_size)
    d = check_pair("dilation", getattr(mod, "dilation", 1))
    k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=True))
    pad = mod.padding
    if pad == "valid":
        p = (0, 0)
    elif pad == "same":
        p = tuple((ke - 1) // 2 for ke in k_eff)
    else:
        p = check_pair("padding", pad)
    return k_eff, s, p  # type: ignore[return-value]


@torch.no_grad()
def layer_receptive_field(
    model: nn.Module, layer: Any, input_shape: Sequence[int], *, device: Any = None
) -> ReceptiveField:
    """The receptive field of the layer's output units, traced through the network.

    Composes the ``nn.Conv2d`` / ``nn.MaxPool2d`` / ``nn.AvgPool2d`` modules that run
    before the layer's output, in call order: with jump ``J`` (input pixels between
    neighbouring units), size ``R`` and start ``S``, a layer with effective kernel k,
    stride s and padding p gives ``R + (k - 1) J``, ``s J`` and ``S - p J``.
    This is exact for chains (LeNet, AlexNet, VGG and the course's small nets).
    When the spatial sizes do not chain (branches such as residual shortcuts, or
    resizing done outside modules) it raises ``ValueError`` instead of guessing.
    ``input_shape``: ``(C, H, W)``.
    """
    shape = check_shape("input_shape", input_shape, length=3, layout="(C, H, W)")
    with _prepared(model, device) as dev:
        target = _resolve_layer(model, layer)
        records: list[tuple[nn.Module, tuple[int, ...], tuple[int, ...]]] = []
        state: dict[str, Any] = {"done": False}

        def spatial_hook(mod: nn.Module, inp: Any, out: Any) -> None:
            if not state["done"]:
                records.append((mod, tuple(inp[0].shape[-2:]), tuple(out.shape[-2:])))

        handles = [
            m.register_forward_hook(spatial_hook)
            for m in model.modules()
            if isinstance(m, _SPATIAL)
        ]
        try:
            with _capture(target, stop=True) as store:
                x = torch.zeros((1, *shape), dtype=_model_dtype(model), device=dev)
                out = _run_to(model, x, store, "input_shape")
        finally:
            for h in handles:
                h.remove()
    if out.ndim != 4:
        raise ValueError(
            f"the layer's output has shape {tuple(out.shape)}: a receptive field needs "
            f"(N, C, H, W) maps (a fully connected unit sees the whole input)"
        )
    size, jump, start = [1, 1], [1, 1], [0, 0]
    cur = shape[1:]
    for mod, in_hw, out_hw in records:
        if in_hw != cur:
            raise ValueError(
                f"cannot trace the receptive field: {type(mod).__name__} receives "
                f"{in_hw[0]}x{in_hw[1]} maps but the layers before it produce "
                f"{cur[0]}x{cur[1]} (the network branches or resizes outside nn modules); "
                f"pass receptive_field= yourself"
            )
        k, s, p = _geometry(mod)
        for a in range(2):
            size[a] += (k[a] - 1) * jump[a]
            start[a] -= p[a] * jump[a]
            jump[a] *= s[a]
        cur = out_hw
    if tuple(out.shape[-2:]) != cur:
        raise ValueError(
            f"cannot trace the receptive field: the layer outputs {out.shape[-2]}x{out.shape[-1]} "
            f"maps but its conv/pool layers produce {cur[0]}x{cur[1]}; pass receptive_field= yourself"
        )
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- top patches


class TopPatches(NamedTuple):
    """Result of :func:`top_activating_patches`, strongest first.

    ``patches``: ``(k, C, RH, RW)`` receptive-field crops (``fill`` where the field
    leaves the image); ``activations``: ``(k,)``; ``image_index``: ``(k,)`` index into
    ``images``; ``position``: ``(k, 2)`` unit (row, col) in the layer's maps;
    ``box``: ``(k, 4)`` (top, left, bottom, right) in input pixels, bottom/right exclusive.
    """

    patches: torch.Tensor
    activations: torch.Tensor
    image_index: torch.Tensor
    position: torch.Tensor
    box: torch.Tensor


@torch.no_grad()
def top_activating_patches(
    model: nn.Module,
    layer: Any,
    images: Any,
    channel: int,
    k: int = 9,
    *,
    one_per_image: bool = True,
    batch_size: int = 256,
    receptive_field: ReceptiveField | None = None,
    fill: float = 0.0,
    device: Any = None,
) -> TopPatches:
    """The k image patches that excite one channel of a layer most.

    ``images``: ``(N, C, H, W)``. Every spatial unit of ``channel`` is a candidate
    (with ``one_per_image=True`` only each image's strongest unit, so the k patches
    come from k different images). Each chosen unit's patch is its receptive field,
    traced with :func:`layer_receptive_field` unless given. Lesson 13; Zeiler & Fergus (2014).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if receptive_field is not None and not isinstance(receptive_field, ReceptiveField):
        raise TypeError(
            f"receptive_field must be a ReceptiveField (from layer_receptive_field) or None, "
            f"not {type(receptive_field).__name__}"
        )
    x = _as_batch(images, "images", _model_dtype(model))
    k = check_int("k", k, minimum=1)
    one_per_image = check_bool("one_per_image", one_per_image)
    fill = check_number("fill", fill)
    channel = check_int("channel", channel, minimum=0)
    maps = layer_output(model, layer, x, batch_size=batch_size, device=device)
    if maps.ndim != 4:
        raise ValueError(
            f"the layer's output has shape {tuple(maps.shape)}: expected (N, C, H, W) maps"
        )
    _check_channel(channel, maps.shape[1], "the layer")
    acts = maps[:, channel].float()  # (N, H', W')
    n, hp, wp = acts.shape
    flat = acts.reshape(n, hp * wp)  # (N, H'*W')
    if one_per_image:
        values, where = flat.max(dim=1)  # (N,), (N,)
        if k > n:
            raise ValueError(f"k={k} is more than the {n} images (one patch per image)")
        top = torch.topk(values, k).indices
        image_index, unit = top, where[top]
    else:
        if k > n * hp * wp:
            raise ValueError(f"k={k} is more than the {n * hp * wp} units of the channel")
        top = torch.topk(flat.reshape(-1), k).indices
        image_index, unit = top // (hp * wp), top % (hp * wp)
    rows, cols = unit // wp, unit % wp
    rf = (
        receptive_field
        if receptive_field is not None
        else layer_receptive_field(model, layer, tuple(x.shape[1:]), device=device)
    )
    x = x.cpu()  # crops are cut on the CPU, whatever device the model ran on
    _, c, h, w = x.shape
    patches = torch.full((k, c, rf.size[0], rf.size[1]), float(fill), dtype=x.dtype)
    boxes = []
    for m in range(k):
        top_, left, bottom, right = rf.box(int(rows[m]), int(cols[m]))
        boxes.append((top_, left, bottom, right))
        t0, l0, b0, r0 = max(top_, 0), max(left, 0), min(bottom, h), min(right, w)
        if b0 > t0 and r0 > l0:
            patches[m, :, t0 - top_ : b0 - top_, l0 - left : r0 - left] = x[
                int(image_index[m]), :, t0:b0, l0:r0
            ]
    return TopPatches(
        patches=patches,
        activations=acts[image_index, rows, cols].clone(),
        image_index=image_index.clone(),
        position=torch.stack([rows, cols], dim=1),
        box=torch.tensor(boxes, dtype=torch.long),
    )



# ----------------------------------------------------------------------------- occlusion


@torch.no_grad()
def occlusion_map(
    model: nn.Module,
    image: Any,
    target: int | Callable[[torch.Tensor], torch.Tensor],
    *,
    patch: int | tuple[int, int] = 8,
    stride: int | tuple[int, int] = 4,
    fill: float | str = 0.0,
    batch_size: int = 128,
    device: Any = None,
) -> torch.Tensor:
    """Drop in the target score when a ``patch`` square hides each part of the image.

    ``image``: ``(C, H, W)`` or ``(1, C, H, W)``. ``target``: a class index into the
    model's ``(1, K)`` output, or a function mapping the output batch to one score per
    image. The square slides with ``stride``; ``fill`` is the occluder's value (or
    ``"mean"``: each channel's mean). Returns ``(H', W')`` on the CPU with
    ``H' = (H - patch) // stride + 1``: entry (i, j) is ``score(image) - score(image
    with rows i*stride.. and columns j*stride.. hidden)``; large means "evidence here".
    Lesson 13; Zeiler & Fergus (2014), section 4.2.
    """
    ph, pw = check_pair("patch", patch, minimum=1)
    sh, sw = check_pair("stride", stride, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not callable(target):
        target = check_int("target", target, minimum=0, what="a class index or a function")
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"fill={fill!r} must be a number or 'mean'")
    else:
        fill = check_number("fill", fill, what="a number or 'mean'")
    with _prepared(model, device) as dev:
        x = _as_batch(image, "image", _model_dtype(model))
        if x.shape[0] != 1:
            raise ValueError(f"image has shape {tuple(x.shape)}: occlusion_map takes one image")
        _, c, h, w = x.shape
        if ph > h or pw > w:
            raise ValueError(f"patch {ph}x{pw} is larger than the image {h}x{w}")
        if isinstance(fill, str):
            fill_value = x.mean(dim=(0, 2, 3)).view(c, 1, 1)  # (C, 1, 1)
        elif abs(fill) > torch.finfo(x.dtype).max:
            raise ValueError(
                f"fill={fill!r} does not fit in the image's dtype {x.dtype} "
                f"(largest {torch.finfo(x.dtype).max:.3g})"
            )
        else:
            fill_value = torch.full((c, 1, 1), float(fill), dtype=x.dtype)
        x = x.to(dev)
        fill_value = fill_value.to(dev)

        def score(batch: torch.Tensor) -> torch.Tensor:
            out = _forward(model, batch, "image")
            if callable(target):
                s = target(out)
            else:
                if out.ndim != 2:
                    raise ValueError(
                        f"the model outputs shape {tuple(out.shape)}; target={target!r} needs "
                        f"(N, K) scores, or pass target as a function out -> (N,)"
                    )
                _check_channel(target, out.shape[1], "the model output", "target")
                s = out[:, target]
            return s.reshape(-1).to(batch.dtype)  # the model's dtype (float64 stays float64)

        base = score(x)[0]
        rows = list(range(0, h - ph + 1, sh))
        cols = list(range(0, w - pw + 1, sw))
        spots = [(r, q) for r in rows for q in cols]
        drops = []
        for start in range(0, len(spots), batch_size):
            chunk = spots[start : start + batch_size]
            batch = x.repeat(len(chunk), 1, 1, 1)  # (B, C, H, W)
            for b, (r, q) in enumerate(chunk):
                batch[b, :, r : r + ph, q : q + pw] = fill_value
            drops.append(base - score(batch))
        return torch.cat(drops).reshape(len(rows), len(cols)).cpu()


# ----------------------------------------------------------------------------- activation maximization


def activation_maximization(
    model: nn.Module,
    layer: Any,
    channel: int,
    *,
    input_shape: Sequence[int],
    norm: float | None = None,
    lr: float = 0.1,
    steps: int = 200,
    tol: float = 1e-4,
    position: tuple[int, int] | str | None = None,
    seed: int = 0,
    backtrack: bool = False,
    start: Any = None,
    device: Any = None,
) -> tuple[torch.Tensor, list[float]]:
    """The input of norm ``rho`` that excites one unit most: ``x* = argmax_{||x||=rho} h(x)``.

    Starts from a seeded Gaussian image (or ``start``, a ``(C, H, W)`` image that is not
    all zeros) scaled to norm ``rho`` and repeats
    ``x <- rho * (x + lr * grad h(x)) / ||x + lr * grad h(x)||`` (a gradient step, then
    projection back onto the sphere) until one step improves ``h`` by less than ``tol``
    or ``steps`` steps have run.

    ``backtrack=True``: a step that does not raise ``h`` is refused (``x`` stays) and
    ``lr`` is halved for the next try, so too large a learning rate slows the run down
    instead of ending it; the run then stops when an accepted step gains less than
    ``tol``, after ten halvings in a row (no step size helps: a local maximum), or after
    ``steps`` tries. The history then records the current value after every try, so it
    never decreases.

    ``input_shape``: ``(C, H, W)``. ``norm``: rho, the Euclidean norm of the whole
    image (default ``sqrt(C*H*W)``, the typical norm of a standard-normal image). The
    unit ``h`` is ``channel`` of the layer's output at ``position`` (row, col) of its
    maps (default: the centre unit; ``"mean"``: the channel's spatial mean); for a
    ``(N, K)`` output, entry ``channel``. Returns the best image found ``(C, H, W)``
    (CPU) and the unit's value at the start and after every step. A unit read after a
    ReLU that is zero at the start has no gradient and stops at once: maximise the
    layer before the ReLU, or try another ``seed``.
    Lesson 13; Erhan et al. (2009).
    """
    shape = check_shape("input_shape", input_shape, length=(3, 4), layout="(C, H, W)")
    if len(shape) == 4:
        if shape[0] != 1:
            raise ValueError(f"input_shape={shape} must be (C, H, W) or (1, C, H, W)")
        shape = shape[1:]
    if norm is None:
        rho = float(np.sqrt(np.prod(shape)))
    else:
        rho = check_number("norm", norm, positive=True, what="the positive radius rho of ||x||")
    lr = check_number("lr", lr, positive=True)
    steps = check_int("steps", steps, minimum=0)
    tol = check_number("tol", tol, minimum=0.0)
    seed = check_int("seed", seed, minimum=0, maximum=2**64 - 1)
    backtrack = check_bool("backtrack", backtrack)
    channel = check_int("channel", channel, minimum=0)
    if position is not None and not (isinstance(position, str) and position == "mean"):
        position = check_pair("position", position, what="a (row, col) pair or 'mean'")
    with _prepared(model, device) as dev:
        target = _resolve_layer(model, layer)
        dtype = _model_dtype(model)
        if start is None:
            gen = torch.Generator().manual_seed(seed)
            x = torch.randn((1, *shape), generator=gen, dtype=dtype)
        else:
            x = _as_batch(start, "start", dtype).detach().cpu()
            if tuple(x.shape) != (1, *shape):
                raise ValueError(
                    f"start has shape {tuple(x.shape)[1:]}; expected input_shape {shape}"
                )
            if not torch.isfinite(x).all() or float(x.norm()) == 0.0:
                raise ValueError("start must be finite and not all zeros (it is scaled to norm rho)")
        x = (x * (rho / x.norm())).to(dev)  # (1, C, H, W) on the sphere

        with _capture(target, stop=True) as store:

            def unit(inp: torch.Tensor) -> torch.Tensor:
                out = _run_to(model, inp, store, "input_shape")
                if out.ndim == 2:
                    if position is not None:
                        raise ValueError(
                            f"position={position!r} given but the layer outputs (N, K)"
                        )
                    _check_channel(channel, out.shape[1], "the layer")
                    return out[0, channel]
                if out.ndim != 4:
                    raise ValueError(
                        f"the layer's output has shape {tuple(out.shape)}: expected (N, C, H, W) or (N, K)"
                    )
                _check_channel(channel, out.shape[1], "the layer")
                if position == "mean":
                    return out[0, channel].mean()
                i, j = (out.shape[2] // 2, out.shape[3] // 2) if position is None else position
                if not (0 <= i < out.shape[2] and 0 <= j < out.shape[3]):
                    raise ValueError(
                        f"position={position!r} is outside the layer's {out.shape[2]}x{out.shape[3]} maps"
                    )
                return out[0, channel, i, j]

            x.requires_grad_(True)
            value = unit(x)
            history = [float(value.detach())]
            best_value, best_x = history[0], x.detach().clone()
            rate, halvings = lr, 0
            (grad,) = torch.autograd.grad(value, x)
            for _ in range(steps):
                with torch.no_grad():
                    stepped = x + rate * grad
                    trial = stepped * (rho / stepped.norm())  # project back onto ||x|| = rho
                trial.requires_grad_(True)
                new_value = unit(trial)
                improvement = float(new_value.detach()) - history[-1]
                if backtrack and not improvement > 0:  # refuse the step, try a smaller one
                    history.append(history[-1])
                    rate, halvings = rate / 2, halvings + 1
                    if halvings >= 10:
                        break
                    continue
                x, value, halvings = trial, new_value, 0
                history.append(float(value.detach()))
                if history[-1] > best_value:
                    best_value, best_x = history[-1], x.detach().clone()
                if improvement < tol:
                    break
                (grad,) = torch.autograd.grad(value, x)
    return best_x[0].cpu(), history
