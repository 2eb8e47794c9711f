"""Course data: digits, shapes scenes, IDX reader, augmentations."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from course_lib.data import (
    SHAPE_CLASSES,
    Augment,
    colour_cast,
    load_digits,
    load_digits_anywhere,
    load_idx,
    load_mnist,
    load_photo,
    make_shapes_segmentation,
    random_affine,
    random_crop,
    random_flip,
    random_rotation,
    random_translation,
    to_grey,
)

CPU = torch.device("cpu")


def test_load_photo_still_works():
    img = load_photo("flower", grey=True)
    assert img.ndim == 2 and 0.0 <= img.min() and img.max() <= 1.0


def test_digits_shapes_split_and_range():
    d = load_digits(device=CPU)
    x, y = d.train.tensors
    assert x.shape[1:] == (1, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert (len(d.train), len(d.val), len(d.test)) == (1257, 180, 360)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert sorted(torch.unique(d.test.tensors[1]).tolist()) == list(range(10))
    assert d.classes == tuple("0123456789")


def test_digits_split_is_fixed_by_seed_and_disjoint():
    a, b, c = load_digits(device=CPU), load_digits(device=CPU), load_digits(seed=1, device=CPU)
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    assert not torch.equal(a.test.tensors[0], c.test.tensors[0])
    flat = [p.tensors[0].flatten(1) for p in (a.train, a.val, a.test)]
    rows = torch.cat(flat)
    # sklearn's digits contain no exact duplicates across these splits' union size
    assert rows.shape[0] == 1797


def test_digits_upscaling_is_bilinear_of_the_8x8_image():
    """The 8x8 split holds sklearn's images / 16; torch's bilinear resize is the oracle
    for the 32x32 version (same seed, same split)."""
    from sklearn.datasets import load_digits as sk

    d8 = load_digits(size=8, device=CPU)
    d32 = load_digits(size=32, device=CPU)
    ref = torch.nn.functional.interpolate(
        d8.train.tensors[0], size=(32, 32), mode="bilinear", align_corners=False
    ).clamp(0, 1)
    torch.testing.assert_close(d32.train.tensors[0], ref)
    assert torch.equal(d8.train.tensors[1], d32.train.tensors[1])
    originals = {tuple(im.ravel()) for im in sk().images / 16.0}
    assert tuple(d8.train.tensors[0][0].numpy().ravel().astype(np.float64)) in originals


def test_digits_bad_arguments():
    with pytest.raises(ValueError, match="size=4"):
        load_digits(size=4)
    with pytest.raises(ValueError, match="leaves no training data"):
        load_digits(val_fraction=0.5, test_fraction=0.5)


def test_shapes_deterministic_and_contains_every_class(tmp_path):
    a = make_shapes_segmentation(40, size=48, seed=3, cache=False, device=CPU)
    b = make_shapes_segmentation(40, size=48, seed=3, cache=False, device=CPU)
    c = make_shapes_segmentation(40, size=48, seed=4, cache=False, device=CPU)
    images, masks = a
    assert images.shape == (40, 3, 48, 48) and images.dtype == torch.float32
    assert masks.shape == (40, 48, 48) and masks.dtype == torch.int64
    assert torch.equal(images, b[0]) and torch.equal(masks, b[1])
    assert not torch.equal(masks, c[1])
    assert sorted(torch.unique(masks).tolist()) == list(range(len(SHAPE_CLASSES)))
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0


def test_shapes_have_scale_variety_and_occlusion():
    _, masks = make_shapes_segmentation(200, seed=0, cache=False, device=CPU)
    areas = (masks != 0).flatten(1).sum(1).float()
    assert float(areas.min()) < 0.05 * 64 * 64 < 0.2 * 64 * 64 < float(areas.max())
    # some pixels of objects are hidden: fewer distinct objects than drawn would be
    # hard to count; instead check that small objects (< 40 px of a class) exist
    small = [(m == k).sum() for m in masks[:50] for k in range(1, 5) if (m == k).any()]
    assert min(small) < 40


def test_shapes_cache_round_trip(tmp_path):
    first = make_shapes_segmentation(10, size=32, seed=1, cache_dir=tmp_path, device=CPU)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and "n10_size32_seed1" in files[0].name
    with np.load(files[0], allow_pickle=False) as stored:
        stored["images"][0, 0, 0, 0]  # readable without pickle
    second = make_shapes_segmentation(10, size=32, seed=1, cache_dir=tmp_path, device=CPU)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_shapes_generation_is_fast():
    import time

    start = time.perf_counter()
    make_shapes_segmentation(300, seed=9, cache=False, device=CPU)
    assert time.perf_counter() - start < 10  # about 1 s here; generous for a busy machine


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [({"n": 0}, "n=0 must be a positive int"), ({"n": 5, "size": 8}, "size=8"),
     ({"n": 5, "seed": -1}, "seed=-1")],
)  # fmt: skip
def test_shapes_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_shapes_segmentation(**kwargs, cache=False)


def _write_idx(path, array: np.ndarray, code: int, compress: bool = False) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    big = array.astype(array.dtype.newbyteorder(">"))
    payload = header + big.tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(payload)


@pytest.mark.parametrize(
    ("dtype", "code"), [(np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D)]
)
@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_round_trip(tmp_path, dtype, code, compress):
    rng = np.random.default_rng(0)
    arr = (rng.uniform(0, 100, (3, 4, 5))).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    _write_idx(path, arr, code, compress)
    out = load_idx(path)
    assert out.shape == arr.shape and out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, arr)


def test_load_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x00\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an IDX file"):
        load_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"abc")
    with pytest.raises(ValueError, match=r"shape \(5,\).*holds 3"):
        load_idx(short)


def test_load_mnist_from_small_idx_files(tmp_path):
    rng = np.random.default_rng(1)
    for prefix, n in (("train", 40), ("t10k", 10)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images, 0x08, compress=True)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", labels, 0x08)
    d = load_mnist(tmp_path, val_fraction=0.25, device=CPU)
    assert (len(d.train), len(d.val), len(d.test)) == (30, 10, 10)
    x = d.test.tensors[0]
    assert x.shape == (10, 1, 32, 32) and float(x[:, :, :2].abs().sum()) == 0.0
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_flip_is_exact_mirror_and_respects_p():
    x = torch.rand(6, 2, 5, 7)
    torch.testing.assert_close(random_flip(x, p=1.0), x.flip(-1))
    torch.testing.assert_close(random_flip(x, p=0.0), x)
    g = torch.Generator().manual_seed(0)
    out = random_flip(x, p=0.5, generator=g)
    each = [torch.equal(o, i) or torch.equal(o, i.flip(-1)) for o, i in zip(out, x, strict=True)]
    assert all(each)


def test_random_crop_is_a_shifted_window_of_the_padded_image():
    x = torch.rand(5, 3, 8, 8)
    g = torch.Generator().manual_seed(2)
    out = random_crop(x, padding=2, generator=g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for o, p in zip(out, padded, strict=True):
        hits = [torch.equal(o, p[:, i : i + 8, j : j + 8]) for i in range(5) for j in range(5)]
        assert sum(hits) >= 1


def test_colour_cast_and_grey():
    x = torch.full((4, 3, 2, 2), 0.5)
    out = colour_cast(x, strength=0.2, generator=torch.Generator().manual_seed(0))
    offsets = out - x
    assert float(offsets.abs().max()) <= 0.2 + 1e-6
    assert torch.allclose(offsets, offsets[:, :, :1, :1].expand_as(offsets))  # per channel
    g = to_grey(torch.rand(2, 3, 4, 4))
    assert torch.equal(g[:, 0], g[:, 1])


def test_affine_identity_rotation_and_shift():
    x = torch.rand(3, 1, 9, 9)
    torch.testing.assert_close(random_affine(x, degrees=0.0, shift=0.0), x, atol=1e-5, rtol=0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    disc = (((yy - 15.5) ** 2 + (xx - 15.5) ** 2) <= 64).float()[None, None].repeat(8, 1, 1, 1)
    turned = random_rotation(disc, degrees=45, generator=torch.Generator().manual_seed(0))
    assert float((turned - disc).abs().mean()) < 0.02  # a centred disc is rotation-invariant
    moved = random_translation(disc, shift=0.2, generator=torch.Generator().manual_seed(0))
    cy = (moved[:, 0] * yy).sum((1, 2)) / moved[:, 0].sum((1, 2))
    assert float((cy - 15.5).abs().max()) <= 0.2 * 32 + 0.5
    assert float((cy - 15.5).abs().max()) > 0.5  # it did move


def test_augment_pipeline_is_reproducible_with_a_generator():
    aug = Augment(flip=0.5, crop=2, degrees=10, shift=0.1, colour=0.1)
    x = torch.rand(4, 3, 16, 16)
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    assert a.shape == x.shape and torch.equal(a, b)


def test_augmentations_reject_non_batches():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        random_flip(torch.rand(3, 4, 4))
    with pytest.raises(TypeError, match=r"x must be a torch tensor .* torch.from_numpy"):
        random_crop(np.zeros((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        Augment(flip=0.5)([[0.0]])


_X = torch.rand(2, 3, 8, 8)


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        (lambda: random_crop(_X, padding=True), TypeError,
         "padding=True must be a non-negative int"),
        (lambda: random_crop(_X, padding=2.0), TypeError, "padding=2.0 must be a non-negative int"),
        (lambda: random_crop(_X, padding=-1), ValueError, "padding=-1 must be a non-negative int"),
        (lambda: colour_cast(_X, strength="a"), TypeError, "strength='a' must be a number"),
        (lambda: colour_cast(_X, strength=float("nan")), ValueError, "strength=nan"),
        (lambda: colour_cast(_X, strength=-0.1), ValueError, "strength=-0.1 .*>= 0"),
        (lambda: colour_cast(_X, strength=float("inf")), ValueError, "strength=inf"),
        (lambda: random_flip(_X, p=1.5), ValueError, r"p=1.5 must be a probability in \[0, 1\]"),
        (lambda: random_flip(_X, p="a"), TypeError, "p='a'"),
        (lambda: random_affine(_X, degrees=-1), ValueError, "degrees=-1.0"),
        (lambda: random_affine(_X, degrees=None), TypeError, "degrees=None"),
        (lambda: random_affine(_X, shift=-0.1), ValueError, r"shift=-0.1 .*\[0, 1\)"),
        (lambda: random_affine(_X, shift=1.0), ValueError, r"shift=1.0 .*\[0, 1\)"),
        (lambda: random_rotation(_X, degrees=float("nan")), ValueError, "degrees=nan"),
        (lambda: random_translation(_X, shift=-0.2), ValueError, "shift=-0.2"),
        (lambda: random_flip(_X, generator="7"), TypeError,
         "generator='7' must be None, an int seed, a torch.Generator or a numpy.random.Generator"),
        (lambda: random_crop(_X, generator=True), TypeError, "generator=True .* not a bool"),
        (lambda: random_affine(_X, generator=-1), ValueError, "generator=-1"),
        (lambda: colour_cast(_X.mul(255).to(torch.uint8)), TypeError,
         "x has dtype torch.uint8; expected floating images"),
        (lambda: random_affine(torch.zeros(1, 1, 4, 4, dtype=torch.int64)), TypeError,
         "x has dtype torch.int64"),
        (lambda: to_grey(torch.rand(2, 1, 4, 4)), ValueError,
         r"x has 1 channel\(s\) \(shape \(2, 1, 4, 4\)\); to_grey expects RGB"),
        (lambda: Augment(flip=2.0), ValueError, "flip=2.0"),
        (lambda: Augment(crop=-1), ValueError, "crop=-1"),
        (lambda: Augment(crop=1.5), TypeError, "crop=1.5"),
        (lambda: Augment(degrees="a"), TypeError, "degrees='a'"),
        (lambda: Augment(shift=1.0), ValueError, "shift=1.0"),
        (lambda: Augment(colour=float("nan")), ValueError, "colour=nan"),
        (lambda: Augment(flip=0.5)(_X, generator="seed"), TypeError, "generator='seed'"),
    ],
)  # fmt: skip
def test_augmentation_bad_arguments_are_named(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_augmentations_take_numpy_and_torch_scalars():
    x = torch.rand(3, 3, 8, 8)
    g = torch.Generator
    torch.testing.assert_close(
        random_flip(x, p=np.float32(0.5), generator=g().manual_seed(1)),
        random_flip(x, p=0.5, generator=g().manual_seed(1)), rtol=0, atol=0,
    )
    torch.testing.assert_close(
        random_crop(x, padding=np.int64(2), generator=g().manual_seed(1)),
        random_crop(x, padding=2, generator=g().manual_seed(1)), rtol=0, atol=0,
    )
    scalars = random_affine(
        x, degrees=torch.tensor(20.0), shift=np.float64(0.1), generator=g().manual_seed(1)
    )
    floats = random_affine(x, degrees=20.0, shift=0.1, generator=g().manual_seed(1))
    torch.testing.assert_close(scalars, floats, rtol=0, atol=0)
    assert Augment(flip=np.float32(0.5), crop=np.int64(1))(x, 0).shape == x.shape


_AUGMENTATIONS = {
    "flip": lambda x, g: random_flip(x, p=0.5, generator=g),
    "crop": lambda x, g: random_crop(x, padding=2, generator=g),
    "colour": lambda x, g: colour_cast(x, strength=0.2, generator=g),
    "affine": lambda x, g: random_affine(x, degrees=20, shift=0.1, generator=g),
    "rotation": lambda x, g: random_rotation(x, degrees=30, generator=g),
    "translation": lambda x, g: random_translation(x, shift=0.2, generator=g),
    "pipeline": lambda x, g: Augment(flip=0.5, crop=2, degrees=10, shift=0.1, colour=0.1)(x, g),
}


@pytest.mark.parametrize("name", list(_AUGMENTATIONS))
def test_every_generator_kind_is_accepted_and_repeats(name):
    """None, an int seed, a torch.Generator and a numpy Generator; a seed repeats its output."""
    aug = _AUGMENTATIONS[name]
    x = torch.rand(6, 3, 10, 10, generator=torch.Generator().manual_seed(0))
    assert aug(x, None).shape == x.shape
    torch.testing.assert_close(aug(x, 5), aug(x, 5), rtol=0, atol=0)
    # an int seed is a CPU torch.Generator seeded with it
    torch.testing.assert_close(aug(x, 5), aug(x, torch.Generator().manual_seed(5)), rtol=0, atol=0)
    by_numpy = aug(x, np.random.default_rng(3))
    torch.testing.assert_close(by_numpy, aug(x, np.random.default_rng(3)), rtol=0, atol=0)
    assert not torch.equal(by_numpy, aug(x, np.random.default_rng(4)))
    assert not torch.equal(aug(x, 5), aug(x, 6))


@pytest.mark.parametrize("name", list(_AUGMENTATIONS))
def test_a_cpu_generator_serves_a_batch_on_another_device(name):
    """The CPU generator set_seed returns, with a tensor elsewhere (meta: shapes only)."""
    x = torch.rand(4, 3, 8, 8, device="meta")
    for g in (torch.Generator().manual_seed(0), 0, np.random.default_rng(0)):
        out = _AUGMENTATIONS[name](x, g)
        assert out.device.type == "meta" and out.shape == x.shape


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(_AUGMENTATIONS))
def test_a_cpu_generator_gives_the_cpu_result_on_cuda(name):
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    on_cpu = _AUGMENTATIONS[name](x, torch.Generator().manual_seed(2))
    on_cuda = _AUGMENTATIONS[name](x.cuda(), torch.Generator().manual_seed(2))
    assert on_cuda.device.type == "cuda"
    torch.testing.assert_close(on_cuda.cpu(), on_cpu, rtol=1e-5, atol=1e-5)


def test_an_int_seed_gives_independent_draws_within_one_call():
    """A seed is turned into one generator per call, not re-seeded for each draw."""
    x = torch.rand(40, 1, 6, 6, generator=torch.Generator().manual_seed(1))
    out = random_crop(x, padding=2, generator=3)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = []
    for o, p in zip(out, padded, strict=True):
        windows = {(i, j): p[:, i : i + 6, j : j + 6] for i in range(5) for j in range(5)}
        hits = [ij for ij, window in windows.items() if torch.equal(o, window)]
        offsets.append(hits[0])
    assert any(i != j for i, j in offsets)  # row and column offsets are separate draws


@pytest.mark.parametrize("name", list(_AUGMENTATIONS))
@pytest.mark.parametrize("g", [None, 1])
def test_augmentations_leave_their_input_alone(name, g):
    x = torch.rand(5, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    out = _AUGMENTATIONS[name](x, g)
    assert torch.equal(x, before)
    assert out.data_ptr() != x.data_ptr()
    out.add_(1.0)  # changing the result must not reach the input either
    assert torch.equal(x, before)


def test_no_op_settings_still_return_a_new_batch():
    x = torch.rand(2, 3, 6, 6)
    for out in (
        random_flip(x, p=0.0),
        random_crop(x, padding=0),
        colour_cast(x, strength=0.0),
        random_affine(x, degrees=0.0, shift=0.0),
        to_grey(x),
    ):
        assert out.data_ptr() != x.data_ptr()
    torch.testing.assert_close(random_flip(x, p=0.0), x, rtol=0, atol=0)
    torch.testing.assert_close(random_crop(x, padding=0), x, rtol=0, atol=0)
    assert Augment()(x) is x  # every step off: the batch as it is


@pytest.mark.parametrize("shape", [(0, 3, 8, 8), (2, 3, 0, 8)])
@pytest.mark.parametrize("name", list(_AUGMENTATIONS))
def test_empty_batches_come_back_empty(name, shape):
    x = torch.rand(shape)
    assert _AUGMENTATIONS[name](x, 0).shape == x.shape


def test_loaders_take_numpy_numbers_and_name_wrong_types(tmp_path):
    plain = load_digits(size=8, val_fraction=0.2, test_fraction=0.25, seed=1, device=CPU)
    odd = load_digits(size=np.int64(8), val_fraction=torch.tensor(0.2, dtype=torch.float64),
                      test_fraction=np.float32(0.25), seed=torch.tensor(1), device=CPU)  # fmt: skip
    for a, b in zip(plain.train.tensors, odd.train.tensors, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(TypeError, match="val_fraction=None must be a fraction"):
        load_digits(val_fraction=None)
    with pytest.raises(ValueError, match="val_fraction=0.004 leaves a part too small"):
        load_digits(size=8, val_fraction=0.004)  # 6 validation digits for 10 classes
    with pytest.raises(ValueError, match=r"seed=4294967296 must be an int seed in \[0, 2\*\*32 - 1\]"):
        load_digits(size=8, seed=2**32)
    with pytest.raises(TypeError, match="seed=None must be an int seed"):
        load_digits_anywhere(seed=None)
    with pytest.raises(TypeError, match="root=None must be a path"):
        load_mnist(None)
    with pytest.raises(TypeError, match=r"path=\[1, 2\] must be a path"):
        load_idx([1, 2])
    with pytest.raises(TypeError, match="cache_dir=3 must be a path"):
        make_shapes_segmentation(2, 16, cache_dir=3)
    with pytest.raises(TypeError, match="name=array"):
        load_photo(np.array(["china"]))
    (tmp_path / "junk").write_bytes(b"not idx")
    with pytest.raises(ValueError, match="path=.*junk' is not an IDX file"):
        load_idx(tmp_path / "junk")
    images, masks = make_shapes_segmentation(np.int64(2), torch.tensor(16), np.int64(1),
                                             cache=False, device=CPU)  # fmt: skip
    ref_images, _ = make_shapes_segmentation(2, 16, 1, cache=False, device=CPU)
    torch.testing.assert_close(images, ref_images, rtol=0, atol=0)


def test_augment_stores_python_numbers():
    odd = Augment(flip=np.float32(0.5), crop=np.int64(2), degrees=torch.tensor(5.0),
                  shift=np.float64(0.1), colour=torch.tensor(0.1, dtype=torch.float64))  # fmt: skip
    assert odd == Augment(flip=0.5, crop=2, degrees=5.0, shift=0.1, colour=0.1)
    assert [type(v) for v in vars(odd).values()] == [float, int, float, float, float]


def test_rotation_of_a_wide_image_is_rigid_like_torchvision():
    """A rotation turns pixel positions rigidly whatever the aspect ratio: on a 24x48 image
    a 90-degree turn maps the offset (dy, dx) from the centre to (dx, -dy) (screen
    coordinates, y down), so a short horizontal bar becomes a vertical one of the same
    length, not a sheared one (the grid runs from -1 to 1 along both sides)."""
    h, w = 24, 48
    x = torch.zeros(1, 1, h, w, dtype=torch.float64)
    x[0, 0, 11:13, 18:30] = 1.0  # a 2x12 bar through the centre (11.5, 23.5)
    # degrees=90 draws the angle uniformly in [-90, 90]: find a seed that gives about 90
    angle = None
    for seed in range(5000):
        u = torch.rand(1, generator=torch.Generator().manual_seed(seed))
        if float(u) > 0.998:
            angle, found = float(u * 2 - 1) * 90.0, seed
            break
    assert angle is not None
    turned = random_rotation(x, degrees=90.0, generator=found)[0, 0]
    rows = torch.nonzero(turned.sum(1) > 0.5).flatten()
    cols = torch.nonzero(turned.sum(0) > 0.5).flatten()
    assert 10 <= rows.numel() <= 14, rows  # about 12 rows tall, as the bar was wide
    assert cols.numel() <= 4, cols  # about 2 columns wide
    # the mass is kept and stays centred
    torch.testing.assert_close(turned.sum(), x.sum(), rtol=0.1, atol=0.0)
