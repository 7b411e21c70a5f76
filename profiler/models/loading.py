"""Load an open_clip model: name + pretrained tag, a local checkpoint, or (explicitly) random weights.

torch and open_clip are imported inside the functions, so importing this module stays cheap.
Weights are always read with `torch.load(weights_only=True)` (no pickled code runs). What was
loaded is described by `ModelInfo`, which results stamp so a number names the exact weights.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from profiler.errors import UserError
from profiler.models.weights import (
    WeightsSource,
    file_sha256,
    first_line,
    local_dir_weights,
    resolve_weights,
)

if TYPE_CHECKING:
    import torch

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
LOCAL_DIR = "local-dir:"
LIST_MODELS_HINT = "python -c \"import open_clip; print(open_clip.list_models())\""


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for stats.json: enough to reproduce a number or to refuse mixing runs."""

    name: str
    pretrained: str  # the tag, the checkpoint path, or "none"
    checkpoint_sha256: str | None  # of the file read (None for random weights)
    embed_dim: int
    context_length: int
    device: str
    precision: str  # "fp32", "bf16 image tower" (CPU), or "bf16 autocast" / "fp16 autocast" (GPU)
    dtype: str  # the reduced compute dtype (bfloat16 or float16), or float32
    random_weights: bool  # True: every output of this model is meaningless except for speed
    logit_scale: float
    open_clip_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def version_string(self) -> str:
        """One line for `Tagger.versions()`: name, weights, hash (RANDOM WEIGHTS said loudly)."""
        if self.random_weights:
            return f"{self.name} RANDOM WEIGHTS (pretrained=none)"
        digest = (self.checkpoint_sha256 or "unknown")[:16]
        return f"{self.name} {self.pretrained} sha256:{digest}"


class LoadedModel:
    """An eval-mode open_clip model on its device, its tokenizer, its precision and its info.

    `lock` serialises inference: worker threads share one model and must not oversubscribe
    the device (or the CPU's intra-op threads) by running it concurrently. `pixel_dtype` is the
    dtype of the image tower's weights, which pixels must be cast to (bfloat16 for bf16 on a CPU).
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, info: ModelInfo,
                 device: torch.device, precision: Precision):
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.device = device
        self.autocast_dtype = precision.autocast
        self.pixel_dtype = precision.image_weights
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Exclusive use of the model, no autograd, autocast at the chosen precision."""
        import torch

        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None else contextlib.nullcontext()
        )
        with self.lock, torch.inference_mode(), autocast:
            yield

    def encode_images(self, pixels: torch.Tensor) -> np.ndarray:
        """L2-normalized float32 image embeddings of preprocessed pixels (N, 3, H, W)."""
        import torch.nn.functional as F

        with self.inference():
            features = self.model.encode_image(pixels.to(self.device, self.pixel_dtype))
            return F.normalize(features.float(), dim=-1).cpu().numpy()

    def image_transform(self) -> Any:
        """open_clip's eval preprocessing for this model (resize, crop, normalize)."""
        from open_clip.transform import PreprocessCfg, image_transform_v2

        cfg = PreprocessCfg(**self.model.visual.preprocess_cfg)
        return image_transform_v2(cfg, is_train=False)


def load_model(
    model: str = DEFAULT_MODEL,
    pretrained: str | None = DEFAULT_PRETRAINED,
    *,
    device: str = "auto",
    precision: str = "auto",
    allow_random_weights: bool = False,
    cache_dir: str | None = None,
    seed: int = 0,
) -> LoadedModel:
    """Build `model` with its weights on `device`; every user mistake is a one-line UserError.

    `pretrained`: an open_clip tag (downloaded and cached on first use), a local checkpoint
    file, or "none" for random weights (only with `allow_random_weights`; seeded by `seed` so
    benchmarks and tests are reproducible).
    """
    import torch

    _check_model_name(model)
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision!r}: choose from {', '.join(PRECISIONS)}")
    target = resolve_device(device)
    if model.startswith(LOCAL_DIR):
        source = local_dir_weights(model)
    else:
        source = resolve_weights(
            model, pretrained, cache_dir=cache_dir, allow_random_weights=allow_random_weights
        )
    net = _build(model, source, cache_dir, seed)
    tokenizer = _tokenizer(model, cache_dir)
    chosen = choose_precision(target, precision)
    logit_scale = _logit_scale(net)  # read in fp32: bf16 would move CLIP's 100 to 98.9
    net = net.to(target).eval().requires_grad_(False)
    if chosen.image_weights != torch.float32:
        net.visual.to(chosen.image_weights)
    info = ModelInfo(
        name=model,
        pretrained=source.pretrained,
        checkpoint_sha256=file_sha256(source.file) if source.file else None,
        embed_dim=_embed_dim(net, tokenizer, target),
        context_length=int(getattr(tokenizer, "context_length", 0) or _context_length(net)),
        device=str(target),
        precision=chosen.name,
        dtype=str(chosen.autocast or chosen.image_weights).removeprefix("torch."),
        random_weights=source.random,
        logit_scale=logit_scale,
        open_clip_version=_open_clip_version(),
    )
    return LoadedModel(net, tokenizer, info, target, chosen)


@functools.lru_cache(maxsize=2)
def load_model_cached(
    model: str, pretrained: str | None, device: str = "auto", precision: str = "auto",
    allow_random_weights: bool = False, cache_dir: str | None = None,
) -> LoadedModel:
    """One model per process for all taggers that ask for the same one (text and image)."""
    return load_model(model, pretrained, device=device, precision=precision,
                      allow_random_weights=allow_random_weights, cache_dir=cache_dir)


def resolve_device(device: str) -> torch.device:
    """`auto`: cuda, then mps, then cpu; an explicit device must exist."""
    import torch

    name = str(device or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        target = torch.device(name)
    except (RuntimeError, ValueError):
        raise UserError(
            f"device {device!r} is not a torch device: use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r}: torch sees no CUDA GPU here; use device = 'auto' or 'cpu'")
    if target.type == "cuda" and target.index is not None and target.index >= torch.cuda.device_count():
        raise UserError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if target.type == "mps" and not _mps_available():
        raise UserError(f"device {device!r}: MPS is not available here; use device = 'auto' or 'cpu'")
    if target.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"device {device!r}: use auto, cpu, cuda, cuda:N or mps")
    return target


# -- helpers ---------------------------------------------------------------------------------------


def _check_model_name(model: str) -> None:
    import open_clip

    if model.startswith(LOCAL_DIR):
        return
    if model.startswith("hf-hub:"):
        raise UserError(
            f"model {model}: hf-hub: names are not supported; download the repository and use "
            "model = 'local-dir:/path/to/it', or a built-in name with pretrained = '/path/to/checkpoint'"
        )
    if open_clip.get_model_config(model) is None:
        close = difflib.get_close_matches(model, open_clip.list_models(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown open_clip model {model!r}{hint}: list the names with {LIST_MODELS_HINT}")


def _build(model: str, source: WeightsSource, cache_dir: str | None, seed: int) -> torch.nn.Module:
    """open_clip.create_model on the CPU in fp32; checkpoint problems become UserErrors."""
    import open_clip
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return open_clip.create_model(
                model, pretrained=source.path, device="cpu", precision="fp32",
                cache_dir=cache_dir, force_preprocess_cfg=source.preprocess or None,
                pretrained_image=False, pretrained_text=False, weights_only=True,
            )
        except Exception as error:  # any failure to read the user's file is the user's to fix
            if source.file is None:
                raise
            raise UserError(
                f"model {model}: checkpoint {source.file} could not be loaded ({first_line(error)}); "
                "is it an open_clip state_dict of this architecture, readable with weights_only=True?"
            ) from None


def _tokenizer(model: str, cache_dir: str | None) -> Any:
    import open_clip

    try:
        return open_clip.get_tokenizer(model, cache_dir=cache_dir)
    except Exception as error:  # HF tokenizers fetch files from the hub
        raise UserError(
            f"model {model}: its tokenizer could not be loaded ({first_line(error)}); "
            "models with Hugging Face tokenizers need them cached (run once online)"
        ) from None


@dataclass(frozen=True)
class Precision:
    """How the model computes: the dtype of the image tower's weights, and autocast (or None)."""

    name: str
    image_weights: torch.dtype
    autocast: torch.dtype | None


def choose_precision(device: torch.device, precision: str) -> Precision:
    """`auto`: bf16 (fp16 without bf16) autocast on GPUs; on CPUs with native bf16 instructions
    the image tower's weights in bf16; fp32 on other CPUs.

    On a CPU, bf16 is run by casting weights rather than by autocast (autocast re-casts fp32
    weights on every call: 0.5x fp32 here), and only for the image tower, where it doubles the
    rate; the caption fast path gained nothing from it, so text stays exact fp32 (BENCHMARKS.md).
    fp16 on a CPU has no fast kernels (0.4 GFLOP/s matmul here) and is refused.
    """
    import torch

    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif device.type == "mps":
            precision = "fp16"
        else:
            precision = "bf16" if cpu_has_native_bf16() else "fp32"
    if precision == "fp32":
        return Precision("fp32", torch.float32, None)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    if device.type != "cpu":
        return Precision(f"{precision} autocast", torch.float32, dtype)
    if precision == "fp16":
        raise UserError("precision 'fp16' on a CPU has no fast kernels: use bf16 or fp32 (or auto)")
    return Precision("bf16 image tower", torch.bfloat16, None)


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """The CPU multiplies bf16 in hardware (AVX512-BF16 or AMX): where bf16 is about twice as
    fast as fp32. Elsewhere bf16 is emulated and slower, so `auto` keeps fp32."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _embed_dim(model: torch.nn.Module, tokenizer: Any, device: torch.device) -> int:
    import torch

    with torch.inference_mode():
        return int(model.encode_text(tokenizer(["a"]).to(device)).shape[-1])


def _context_length(model: torch.nn.Module) -> int:
    text = getattr(model, "text", model)
    return int(getattr(text, "context_length", 0) or getattr(model, "context_length", 0))


def _logit_scale(model: torch.nn.Module) -> float:
    return float(model.logit_scale.detach().exp().reshape(-1)[0].cpu())


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _open_clip_version() -> str:
    import open_clip

    return str(open_clip.__version__)
