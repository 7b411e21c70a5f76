"""Benchmark of CLIP image encoding: a naive PIL + open_clip loop vs ImageEncoder vs the FLOP bound.

Why this exists: the image taggers spend their time here, and the target is >= 1.5x a naive
loop and >= 60% of the model's FLOP-bound rate, measured in one run on one machine
(BENCHMARKS.md, "Method"). In the same run:

  * (a) naive: `Image.open(bytes).convert("RGB")`, open_clip's `preprocess`, `torch.stack`,
    `model.encode_image` in batches of 64, normalized, in fp32 (open_clip's default);
  * (b) ImageEncoder at the product's precision for the device (`--precision`, default auto:
    the image tower in bf16 on CPUs with native bf16, bf16/fp16 autocast on GPUs): decoding in workers
    (or between batches; the default for the machine), JPEG draft mode, uint8 pixels,
    normalization as one tensor op, overlapped with the model;
  * (b32) the same ImageEncoder in fp32, when (b) is not fp32: what the pipeline gains alone;
  * (c) the FLOP bound: ViT-B-32 GFLOPs per image (torch.utils.flop_counter on one batch, MHA
    fast path off so attention projections are counted) over this machine's measured fp32
    matrix-multiply rate (torch.matmul of 2048^2 and 4096^2 matrices, the better one); and
    over the rate in (b)'s dtype when that is not fp32.

Also: the decode cost alone (ms per image: naive preprocess, ours with and without draft
mode) and, with --sweep, ImageEncoder throughput for decode workers x torch threads.
Each timing records `others`, the share of the cores used by other processes meanwhile (our
own decode worker processes are ours, not others).

Images: LAION-like JPEGs (sides 256-640 px, random aspect, quality 80-92, every third one
progressive) made from the real photos in ../shared/data/real-photos (resized, with a little
sensor noise so file sizes are realistic), or from synthetic photo-like pixels without
../shared. Model: ViT-B-32 with random weights (the real architecture and FLOPs).

    .venv/bin/python bench/clip_images.py [--images 768] [--device cpu|cuda] [--sweep]
    .venv/bin/python bench/clip_images.py --smoke          # tiny run while developing
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
REAL_PHOTOS = ROOT.parent / "shared" / "data" / "real-photos"
OUT = ROOT / "bench" / "out" / "clip_images.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from clip_text import best_run, measure  # noqa: E402 (bench scripts: no package)


def make_images(n: int, seed: int = 0) -> tuple[list[bytes], str]:
    """LAION-like JPEG bytes and where their pixels came from."""
    from PIL import Image

    from tests.image_corpus import photo_like

    rng = np.random.default_rng(seed)
    sources = [Image.open(path).convert("RGB") for path in sorted(REAL_PHOTOS.glob("*.jpg"))]
    images = []
    for i in range(n):
        width, height = (int(v) for v in rng.integers(256, 641, 2))
        if sources:
            base = sources[i % len(sources)].resize((width, height), Image.Resampling.LANCZOS)
            pixels = np.asarray(base).astype(np.float32) + rng.normal(0, 4, (height, width, 3))
        else:
            pixels = photo_like(width, height, seed=i)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            buffer, "JPEG", quality=int(rng.integers(80, 93)), progressive=i % 3 == 0)
        images.append(buffer.getvalue())
    return images, ("real photos, resized" if sources else "synthetic photo-like pixels")


def matmul_rate(device: Any, dtype: Any, repeats: int = 10) -> float:
    """Best GFLOP/s of torch.matmul on large square matrices (the stricter of two sizes)."""
    import torch

    best = 0.0
    for size in (2048, 4096):
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        a @ b
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            a @ b
            _sync(device)
            best = max(best, 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def model_gflops(loaded: Any, batch: int = 8) -> float:
    """GFLOPs per image of the image tower, counted by torch on one batch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, 3, *loaded.model.visual.preprocess_cfg["size"], device=loaded.device)
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused MHA op is invisible to the counter
    try:
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            loaded.model.encode_image(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() / batch / 1e9


def _sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=768)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--precision", default="auto", help="(b)'s precision: auto, fp32, bf16, fp16")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--decode-workers", type=int, default=None, help="default: the product default")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tries", type=int, default=2,
                        help="times a measurement is taken again when other processes disturbed it")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="seconds to wait for an idle machine before each measurement")
    parser.add_argument("--sweep", action="store_true", help="also: decode workers x torch threads")
    parser.add_argument("--sweep-images", type=int, default=256)
    parser.add_argument("--sweep-repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="64 images, 1 repeat, no waiting")
    args = parser.parse_args()
    if args.smoke:
        args.images, args.repeats, args.tries, args.quiet_wait = 64, 1, 1, 0.0
        args.sweep_images, args.sweep_repeats = 64, 1

    import torch
    import torch.nn.functional as F
    from PIL import Image

    from profiler.images.decode import PreprocessSpec, prepare_batch
    from profiler.images.pipeline import ImageEncoder
    from profiler.models.loading import load_model

    # same seed, same weights: (a) and (b32) in fp32, (b) at the product's precision
    reference = load_model("ViT-B-32", "none", allow_random_weights=True, device=args.device,
                           precision="fp32")
    loaded = load_model("ViT-B-32", "none", allow_random_weights=True, device=args.device,
                        precision=args.precision)
    if loaded.info.precision == "fp32":
        loaded = reference
    images, origin = make_images(args.images)
    n = len(images)
    preprocess = reference.image_transform()

    def naive() -> np.ndarray:
        """(a): PIL open, open_clip preprocess, encode_image in batches of 64."""
        out = []
        for i in range(0, n, args.batch_size):
            batch = torch.stack([preprocess(Image.open(io.BytesIO(b)).convert("RGB"))
                                 for b in images[i : i + args.batch_size]])
            with reference.inference():
                features = reference.model.encode_image(batch.to(reference.device))
                out.append(F.normalize(features.float(), dim=-1).cpu().numpy())
        return np.concatenate(out)

    started = time.perf_counter()
    models = {"encoder": loaded} if loaded is reference else {"encoder": loaded, "encoder_fp32": reference}
    encoders = {name: ImageEncoder(model, batch_size=args.batch_size, decode_workers=args.decode_workers)
                for name, model in models.items()}
    for warming in encoders.values():
        warming.encode(images[: args.batch_size])  # warm-up; starts the decode workers
    startup_s = (time.perf_counter() - started) / len(encoders)
    naive_warm = [preprocess(Image.open(io.BytesIO(b)).convert("RGB")) for b in images[:8]]
    with reference.inference():
        reference.model.encode_image(torch.stack(naive_warm).to(reference.device))

    runs: dict[str, list[dict[str, Any]]] = {"naive": [], **{name: [] for name in encoders}}
    for repeat in range(args.repeats):  # interleaved: slow drifts of the machine hit every path
        runs["naive"] += measure(naive, args.quiet_wait, args.tries)
        for name, timed_encoder in encoders.items():
            runs[name] += measure(lambda e=timed_encoder: e.encode(images), args.quiet_wait, args.tries)
        print(f"repeat {repeat + 1}: " + ", ".join(
            f"{k} {v[-1]['seconds']:.1f}s (others {v[-1]['others']:.1%})" for k, v in runs.items()),
            flush=True)
    best = {k: best_run(v) for k, v in runs.items()}
    naive_emb = best["naive"]["result"]
    ours_emb, reasons = best["encoder"]["result"]
    description = encoders["encoder"].describe()
    for closing in encoders.values():
        closing.close()

    # decode cost alone, one thread, ms per image
    spec = PreprocessSpec.from_preprocess_cfg(loaded.model.visual.preprocess_cfg)
    exact = PreprocessSpec.from_preprocess_cfg(loaded.model.visual.preprocess_cfg, draft=False)
    sample = images[: min(n, 256)]
    decode_ms = {
        "naive_preprocess": _ms(
            lambda: [preprocess(Image.open(io.BytesIO(b)).convert("RGB")) for b in sample], len(sample)),
        "ours_draft": _ms(lambda: prepare_batch(sample, spec), len(sample)),
        "ours_no_draft": _ms(lambda: prepare_batch(sample, exact), len(sample)),
    }

    sweep = []
    if args.sweep and loaded.device.type == "cpu":
        subset = images[: args.sweep_images]
        threads_before = torch.get_num_threads()
        cpus = os.cpu_count() or 1
        configs = [(t, w) for t in sorted({1, max(1, cpus // 2), cpus}) for w in (0, 1, 2)]
        sweeping = {w: ImageEncoder(loaded, batch_size=args.batch_size, decode_workers=w) for w in (0, 1, 2)}
        for swept in sweeping.values():
            swept.encode(subset[: args.batch_size])  # start the workers
        timings: dict[tuple[int, int], list[dict[str, Any]]] = {c: [] for c in configs}
        for _ in range(args.sweep_repeats):  # interleaved: slow drifts of the machine hit every config
            for threads, workers in configs:
                torch.set_num_threads(threads)
                timings[threads, workers] += measure(
                    lambda swept=sweeping[workers]: swept.encode(subset), args.quiet_wait, args.tries)
        for swept in sweeping.values():
            swept.close()
        torch.set_num_threads(threads_before)
        for (threads, workers), runs_of in timings.items():
            run = best_run(runs_of)
            sweep.append({"torch_threads": threads, "decode_workers": workers,
                          "images_per_s": round(len(subset) / run["seconds"], 2),
                          "all_images_per_s": [round(len(subset) / r["seconds"], 2) for r in runs_of],
                          "others_during": [r["others"] for r in runs_of]})
            print(f"  sweep: torch threads {threads}, decode workers {workers}: best "
                  f"{sweep[-1]['images_per_s']} images/s (all {sweep[-1]['all_images_per_s']})", flush=True)

    # the model alone on random pixels: how much of (b) - (a) is the forward-pass size
    # (interleaved repeats, best of each: this VM's speed drifts by 10-20% within minutes)
    forwards = {}
    for name, model in models.items():
        prefix = "fp32_" if name == "encoder_fp32" else ""
        for size in sorted({args.batch_size, description["model_batch"]}):
            x = torch.randn(size, 3, *spec.size, device=model.device, dtype=model.pixel_dtype)
            count = max(size, (min(n, 256) // size) * size)

            def forward(x: Any = x, count: int = count, model: Any = model) -> None:
                for _ in range(count // len(x)):
                    with model.inference():
                        model.model.encode_image(x)
                _sync(model.device)

            forward()
            forwards[f"{prefix}batch_{size}"] = (forward, count, [])
    for _ in range(args.repeats):
        for forward, _, runs_of in forwards.values():
            runs_of += measure(forward, args.quiet_wait, args.tries)
    model_only = {key: round(count / best_run(runs_of)["seconds"], 2)
                  for key, (_, count, runs_of) in forwards.items()}
    model_only_all = {key: [round(count / r["seconds"], 2) for r in runs_of]
                      for key, (_, count, runs_of) in forwards.items()}

    rate = matmul_rate(loaded.device, torch.float32)
    gflop = model_gflops(reference)
    bound = rate / gflop
    dtype = loaded.autocast_dtype or loaded.pixel_dtype
    own_rate = rate if dtype == torch.float32 else matmul_rate(loaded.device, dtype)
    own_bound = own_rate / gflop
    rates = {k: n / best[k]["seconds"] for k in runs}
    naive_rate, ours_rate = rates["naive"], rates["encoder"]
    cosine = (naive_emb * ours_emb).sum(axis=1)
    paths = {k: {"best_s": round(best[k]["seconds"], 3), "images_per_s": round(rates[k], 2),
                 "all_s": [round(r["seconds"], 3) for r in runs[k]],
                 "others_during": [r["others"] for r in runs[k]]} for k in runs}
    if "encoder_fp32" in best:
        fp32_cosine = (naive_emb * best["encoder_fp32"]["result"][0]).sum(axis=1)
        paths["encoder_fp32"]["cosine_vs_naive"] = {"min": round(float(fp32_cosine.min()), 5),
                                                    "mean": round(float(fp32_cosine.mean()), 5)}
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                      if line.startswith("model name")), platform.processor())
    report = {
        "model": loaded.info.to_dict(),
        "images": n, "origin": origin,
        "mean_jpeg_bytes": round(float(np.mean([len(b) for b in images]))),
        "problems": sum(r is not None for r in reasons),
        **paths,
        "encoder_setup": {"precision": loaded.info.precision, "startup_s": round(startup_s, 2),
                          "describe": description},
        "floor": {"matmul_gflops": round(rate, 1), "matmul_dtype": "float32",
                  "gflop_per_image": round(gflop, 3), "flop_bound_images_per_s": round(bound, 2),
                  "own_dtype": str(dtype).removeprefix("torch."), "own_matmul_gflops": round(own_rate, 1),
                  "own_flop_bound_images_per_s": round(own_bound, 2)},
        "ratios": {**{f"{k}_vs_naive": round(v / naive_rate, 3) for k, v in rates.items() if k != "naive"},
                   **{f"{k}_share_of_fp32_flop_bound": round(v / bound, 3) for k, v in rates.items()},
                   "encoder_share_of_own_flop_bound": round(ours_rate / own_bound, 3)},
        "embeddings_cosine_vs_naive": {"min": round(float(cosine.min()), 5),
                                       "mean": round(float(cosine.mean()), 5)},
        "decode_ms_per_image_one_thread": {k: round(v, 3) for k, v in decode_ms.items()},
        "model_only_images_per_s": model_only,
        "model_only_all_images_per_s": model_only_all,
        "sweep": sweep,
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model, "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "numpy": np.__version__, "pillow": Image.__version__,
                    "gpu": torch.cuda.get_device_name(loaded.device) if loaded.device.type == "cuda"
                    else None},
        "command": " ".join(sys.argv),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, default=str))
    f, r = report["floor"], report["ratios"]
    print(f"\nViT-B-32 (random weights) on {loaded.device}, {n} JPEGs ({origin}, mean "
          f"{report['mean_jpeg_bytes']:,} bytes), batch {args.batch_size}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"  (a) naive PIL + preprocess loop, fp32 : {naive_rate:8.2f} images/s "
          f"({100 * r['naive_share_of_fp32_flop_bound']:.0f}% of the fp32 FLOP bound)")
    print(f"  (b) ImageEncoder, {loaded.info.precision:<19} : {ours_rate:8.2f} images/s "
          f"({100 * r['encoder_share_of_fp32_flop_bound']:.0f}% of the fp32 FLOP bound, "
          f"{100 * r['encoder_share_of_own_flop_bound']:.0f}% of its own) = {r['encoder_vs_naive']}x (a); "
          f"decode {description['decode_pool']}, {description['decode_workers']} workers, "
          f"forward passes of {description['model_batch']}")
    if "encoder_fp32" in rates:
        print(f"  (b32) ImageEncoder, fp32             : {rates['encoder_fp32']:8.2f} images/s "
              f"({100 * r['encoder_fp32_share_of_fp32_flop_bound']:.0f}% of the fp32 FLOP bound) "
              f"= {r['encoder_fp32_vs_naive']}x (a)")
    print(f"  (c) FLOP bound, fp32                 : {bound:8.2f} images/s ({gflop:.2f} GFLOP/image at "
          f"{f['matmul_gflops']} GFLOP/s fp32 matmul)")
    if own_rate != rate:
        print(f"      FLOP bound, {f['own_dtype']:<20} : {own_bound:8.2f} images/s "
              f"({f['own_matmul_gflops']} GFLOP/s matmul)")
    print("  model alone (random pixels): " + ", ".join(f"{k} {v} images/s" for k, v in model_only.items()))
    print("  decode ms/image, one thread: " + ", ".join(f"{k} {v:.2f}" for k, v in decode_ms.items()))
    print(f"  embeddings vs naive: cosine min {cosine.min():.4f}, mean {cosine.mean():.4f} (draft mode)")
    print(f"written to {OUT.relative_to(ROOT)}")
    return 0


def _ms(fn: Any, count: int) -> float:
    fn()  # warm
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / count * 1000


if __name__ == "__main__":
    raise SystemExit(main())
