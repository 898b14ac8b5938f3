#!/usr/bin/env python3
"""Writes a seed corpus per fuzz target into OUT/<target>/ from ../shared's
small models (headers and the first few KB only: no weights are needed to
reach the parsers' code) and from hand-made minimal inputs.
Usage: make_seeds.py SHARED_DIR SOURCE_DIR OUT"""
import json
import os
import struct
import sys

shared, source, out = sys.argv[1:4]
models = os.path.join(shared, "models")


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def seed(target: str, name: str, data: bytes) -> None:
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def head(path: str, n: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def model(*parts: str) -> str:
    return os.path.join(models, *parts)


# safetensors: the real headers, plus a few KB of data behind them.
for m in ("stories260K", "shakespeare-5m"):
    p = model(m, "model.safetensors")
    (hlen,) = struct.unpack("<Q", head(p, 8))
    seed("fuzz_safetensors", m, head(p, 8 + hlen + 2048))
tiny = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                   "__metadata__": {"format": "pt"}}).encode()
seed("fuzz_safetensors", "tiny", struct.pack("<Q", len(tiny)) + tiny + bytes(16))


# GGUF: stories260K's header (metadata with its 512-token vocabulary, tensor
# infos), and a minimal file with one tensor and one value of each kind.
seed("fuzz_gguf", "stories260K-head", head(model("stories260K", "stories260K.gguf"), 16384))


def gstr(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


kv = gstr(b"general.architecture") + struct.pack("<I", 8) + gstr(b"llama")
kv += gstr(b"general.alignment") + struct.pack("<II", 4, 32)
kv += gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2) + gstr(b"<s>") + gstr(b"a")
kv += gstr(b"tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + struct.pack("<ff", 0, -1)
kv += gstr(b"llama.embedding_length") + struct.pack("<II", 4, 4)
tinfo = gstr(b"token_embd.weight") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 2) + struct.pack("<IQ", 0, 0)
g = b"GGUF" + struct.pack("<IQQ", 3, 1, 5) + kv + tinfo
g += bytes((-len(g)) % 32) + bytes(32)
seed("fuzz_gguf", "tiny", g)

# llama2.c: stories260K's header with its first KB, and a complete tiny model
# (dim 2, 1 layer, vocab 2 with its own classifier).
seed("fuzz_llama2c", "stories260K-head", head(model("stories260K", "stories260K.bin"), 1024))
dim, hidden, layers, heads, kv_heads, vocab, seq = 2, 2, 1, 1, 1, 2, 1
floats = vocab * dim + layers * (dim + 4 * dim * dim + dim + 3 * hidden * dim) + dim + seq * dim + vocab * dim
seed("fuzz_llama2c", "tiny", struct.pack("<7i", dim, hidden, layers, heads, kv_heads, -vocab, seq) +
     struct.pack(f"<{floats}f", *([0.5] * floats)))

# llama2.c tokenizer: the vocab size (u16) the harness passes, then the file.
with open(model("stories260K", "tok512.bin"), "rb") as f:
    seed("fuzz_llama2c_tokenizer", "tok512", struct.pack("<H", 512) + f.read())

# SentencePiece models, HF configs.
seed("fuzz_sentencepiece", "shakespeare", head(model("shakespeare-5m", "tokenizer.model"), 1 << 20))
seed("fuzz_sentencepiece", "tok512", head(model("stories260K", "tok512.model"), 1 << 20))
for m in ("stories260K", "shakespeare-5m"):
    seed("fuzz_hf_config", m, head(model(m, "config.json"), 1 << 20))

# tokenizer.json: a minimal Llama-style BPE (none ships in ../shared).
tok_json = {
    "model": {"type": "BPE", "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "\u2581": 4, "a": 5,
                                       "b": 6, "ab": 7, "\u2581ab": 8},
              "merges": ["a b", ["\u2581", "ab"]], "unk_token": "<unk>", "byte_fallback": True},
    "added_tokens": [{"id": 1, "content": "<s>", "special": True}, {"id": 2, "content": "</s>", "special": True}],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                        {"type": "Replace", "pattern": {"String": " "},
                                                         "content": "\u2581"}]},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
                                                                {"Sequence": {"id": "A"}}]},
}
seed("fuzz_hf_tokenizer_json", "tiny", json.dumps(tok_json).encode())
tok_json["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"}
del tok_json["normalizer"]
seed("fuzz_hf_tokenizer_json", "metaspace", json.dumps(tok_json).encode())

# Job specs: the examples.
ex = os.path.join(source, "examples")
for name in sorted(os.listdir(ex)):
    seed("fuzz_job_spec", name, head(os.path.join(ex, name), 1 << 20))


# Thrift calls as framed binary-protocol messages (idl/shardq.thrift), encoded
# by hand from the protocol's spec: a frame length, then 0x8001 0x0001 (version,
# CALL), the method name, a sequence id, the argument struct.
def t_str(fid: int, v: bytes) -> bytes:
    return struct.pack(">bhi", 11, fid, len(v)) + v


def t_i32(fid: int, v: int) -> bytes:
    return struct.pack(">bhi", 8, fid, v)


def t_struct(fid: int, body: bytes) -> bytes:
    return struct.pack(">bh", 12, fid) + body + b"\x00"


def t_call(name: bytes, seq: int, args: bytes) -> bytes:
    msg = struct.pack(">I", 0x80010001) + struct.pack(">i", len(name)) + name + struct.pack(">i", seq) + args + b"\x00"
    return struct.pack(">i", len(msg)) + msg


spec_struct = (t_str(2, b"/models/m") + t_struct(3, t_str(1, b"/out/m.gguf")) +
               t_struct(4, t_struct(1, t_str(1, b"Q4_K_M") + t_str(2, b"rtn"))))
seed("fuzz_thrift_request", "submit",
     t_call(b"submit", 1, t_str(1, b"token") + t_struct(2, spec_struct) + t_str(3, b"key") + t_i32(4, 0)))
seed("fuzz_thrift_request", "info_then_status",
     t_call(b"serverInfo", 1, b"") + t_call(b"status", 2, t_str(1, b"token") + t_str(2, b"job-1")))


# Tensor blob records (docs/formats.md, "Tensor blob").
def blob(name: bytes, type_id: int, shape, payload: bytes, reason: bytes = b"preset") -> bytes:
    r = b"SQTB" + struct.pack("<I", 1) + struct.pack("<I", len(name)) + name
    r += struct.pack("<II", type_id, len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
    r += struct.pack("<dddQ", 0.5, 2.0, 0.25, len(payload) // 4)
    r += struct.pack("<I", len(reason)) + reason + struct.pack("<Q", len(payload)) + payload
    r += struct.pack("<I", crc32c(payload))
    return r + struct.pack("<I", crc32c(r))


f32_blob = blob(b"blk.0.attn_q.weight", 0, [2, 2], struct.pack("<4f", 1, 2, 3, 4))
q8_blob = blob(b"output.weight", 8, [1, 32], bytes(34))
seed("fuzz_tensor_blob", "f32", f32_blob)
seed("fuzz_tensor_blob", "q8_0", q8_blob)

# Worker messages: a unit with two blobs, and "done" with an error.
msg = b"U" + struct.pack("<qdI", 3, 0.25, 2)
for b in (f32_blob, q8_blob):
    msg += struct.pack("<Q", len(b)) + b
seed("fuzz_worker_message", "unit", msg)
seed("fuzz_worker_message", "done", b"Dworker failed: out of memory")
# Calibration products (runtime/block_input_product.h, unit_stats_product.h) in a "P" message.
fp = b"ab12"
bi = b"SQBI" + struct.pack("<IqI", 1, 2, len(fp)) + fp + struct.pack("<qI", 2, 1) + struct.pack("<q", 2)
bi += struct.pack("<4f", 0.5, -1, 2, 3)
bi += struct.pack("<I", crc32c(bi))
seed("fuzz_worker_message", "block_input", b"P" + struct.pack("<q", 3) + bi)
us = b"SQUS" + struct.pack("<IqI", 1, 3, len(fp)) + fp + struct.pack("<Q", 3) + b"xyz"
us += struct.pack("<I", crc32c(us))
seed("fuzz_worker_message", "unit_stats", b"P" + struct.pack("<q", 3) + us)

# Job assignment (runtime/job_messages.cpp's JSON).
assignment = {"job_id": "job-1", "model": "m",
              "recipe": {"algorithm": "imatrix", "preset": "Q4_K_M", "pure": False,
                         "overrides": [["attn_v", "Q8_0"]], "output_tensor_type": "", "token_embedding_type": "",
                         "calibration": {"text": "calib.txt", "samples": 4, "seq_len": 16, "hessian": False}},
              "todo": [0, 1, 2], "threads": 2, "ranges": [[1, 0, 2], [2, 2, 3]]}
seed("fuzz_job_assignment", "imatrix", json.dumps(assignment).encode())


# Calibration statistics (docs/formats.md): two entries, one with a Hessian.
def stats() -> bytes:
    body = b"SQSTATS1" + struct.pack("<II", 1, 2)
    for name, n, hess in ((b"blk.0.attn_q.weight", 2, True), (b"output.weight", 3, False)):
        body += struct.pack("<I", len(name)) + name + struct.pack("<QQI", n, 16, 1 if hess else 0)
        body += struct.pack(f"<{n}d", *([1.5] * n)) + struct.pack(f"<{n}f", *([2.0] * n))
        if hess:
            body += struct.pack(f"<{n * n}d", *([0.5] * (n * n)))
    return body + struct.pack("<I", crc32c(body))


seed("fuzz_calibration_stats", "two", stats())


# State-store records; the harness's first byte picks job (even) or unit (odd)
# and, with bit 1 set, re-seals the record's CRC.
def sealed(rec: dict) -> bytes:
    body = json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()
    rec = dict(rec, crc32c=crc32c(body))
    return json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()


job = {"id": "job-1", "spec_json": "{}", "fingerprint": "ab", "state": "compressing", "error": "",
       "n_units": 3, "created_unix": 1, "updated_unix": 2}
unit = {"index": 1, "name": "blk.0", "tensors": ["blk.0.attn_q.weight"], "worker_rank": 1, "seconds": 0.5}
seed("fuzz_state_records", "job", b"\x00" + sealed(job))
seed("fuzz_state_records", "job-reseal", b"\x02" + sealed(job))
seed("fuzz_state_records", "unit", b"\x01" + sealed(unit))
seed("fuzz_state_records", "unit-reseal", b"\x03" + sealed(unit))
