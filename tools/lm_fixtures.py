#!/usr/bin/python3
"""Writes the language-model fixtures of the tests (deterministic: running it twice gives the same bytes).

    /usr/bin/python3 tools/lm_fixtures.py [OUTDIR]       # default OUTDIR: tests/fixtures/lm

Per case NAME: a random-weight MinLMRef (tools/reference.py) is saved with torch.save to a temporary
checkpoint and converted by tools/convert.py to NAME.safetensors (F32) and, for some cases, to
NAME.f16.safetensors and NAME.q8.safetensors. NAME.expected.bin holds the reference's logits of the F32
model over a fixed random byte sequence, little-endian:
    b"MGLMEXP1", u32 T, u32 num_tokens, int32 tokens[T], float32 logits[T, num_tokens]
manifest.json lists the cases.

Self-check: every written model file is read back with a small independent safetensors reader, a MinLMRef
is rebuilt from its metadata and tensors (F16 widened, I8 dequantized) and its logits are compared with
the expected ones: F32 must agree to 1e-5; the F16 and Q8 differences are printed.
"""
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert import convert  # noqa: E402
from reference import MinLMRef  # noqa: E402

NUM_TOKENS = 256
T = 48
CASES = [
    # name, cell, dim, depth, expansion, ff_mult, conv kernel (0 = none), old minGRULM norms, extra dtypes
    ("gru-d32-l2", "gru", 32, 2, 1.5, 4, 0, False, ("f16", "q8")),
    ("gru-d24-l3-conv3", "gru", 24, 3, 2.0, 2, 3, False, ()),
    ("lstm-d32-l2", "lstm", 32, 2, 1.5, 4, 0, False, ("f16", "q8")),
    ("lstm-d16-l2-conv4-e1", "lstm", 16, 2, 1.0, 3, 4, False, ()),
    ("gru-d40-l1-e1", "gru", 40, 1, 1.0, 2, 0, False, ()),
    ("oldnorm-gru-d32-l2-conv3", "gru", 32, 2, 1.5, 4, 3, True, ()),
    # the smallest: also the base of the broken-file corpus (tests/helpers/make-corpus.mjs); q8 puts I8 after F32
    ("tiny-gru-d4-l2-conv2", "gru", 4, 2, 1.5, 2, 2, False, ("q8",)),
]


def build(seed, cell, dim, depth, expansion, ff_mult, kernel, old_norm, num_tokens=NUM_TOKENS):
    """A MinLMRef with every parameter random, so that a wrong index or a skipped term shows in the logits:
    Linear / Conv1d weights keep their default init (torch.manual_seed(seed)), then, from a generator seeded
    with seed + 1000: norms 1 + 0.2 randn (minGRULM's gamma 0.2 randn), biases 0.1 randn, embedding 0.5 randn."""
    torch.manual_seed(seed)
    model = MinLMRef(num_tokens, dim, depth, ff_mult=ff_mult, expansion=expansion, conv_kernel_size=kernel or 3,
                     use_lstm=cell == "lstm", enable_conv=kernel > 0, old_norm=old_norm)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1 and name.endswith(".weight"):  # layers.i.1, layers.i.3 and norm: RMSNorm weights
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name == "token_emb.weight":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return model


def write_expected(path, tokens, logits):
    with open(path, "wb") as f:
        f.write(b"MGLMEXP1" + struct.pack("<II", len(tokens), logits.shape[1]))
        f.write(np.asarray(tokens, dtype="<i4").tobytes())
        f.write(logits.numpy().astype("<f4").tobytes())


# ---------------------------------------------------------------- the self-check, independent of convert.py

def read_expected(path):
    data = open(path, "rb").read()
    assert data[:8] == b"MGLMEXP1", path
    t, v = struct.unpack_from("<II", data, 8)
    tokens = np.frombuffer(data, "<i4", t, 16)
    logits = np.frombuffer(data, "<f4", t * v, 16 + 4 * t).reshape(t, v)
    assert len(data) == 16 + 4 * t + 4 * t * v, path
    return torch.from_numpy(tokens.astype(np.int64)), torch.from_numpy(logits.copy())


def read_model_file(path):
    """(metadata, {name: float32 tensor}) of a mingru file; checks the layout the converter promises. A tokenizer
    the file carries (the U8 tensor `tokenizer`, last) is checked against the metadata and left out of the tensors."""
    data = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8:8 + n])
    assert (8 + n) % 64 == 0, f"{path}: tensor data does not start on a 64-byte boundary"
    meta = header.pop("__metadata__")
    assert all(isinstance(v, str) for v in meta.values()), f"{path}: a metadata value is not a string"
    assert meta["format"] == "mingru" and meta["version"] == "1", path
    widths = {"F32": ("<f4", 4), "F16": ("<f2", 2), "I8": ("i1", 1), "U8": ("u1", 1)}
    raw, end = {}, 0
    for name, info in header.items():
        kind, size = widths[info["dtype"]]
        start, stop = info["data_offsets"]
        count = int(np.prod(info["shape"], dtype=np.int64))
        # back to back, as the safetensors reference implementation requires; F32 stays 4-byte aligned
        assert start == end and stop - start == count * size, f"{path}: {name}"
        assert info["dtype"] != "F32" or start % 4 == 0, f"{path}: {name} is not 4-byte aligned"
        raw[name] = np.frombuffer(data, kind, count, 8 + n + start).reshape(info["shape"]).astype(np.float32)
        end = stop
    assert 8 + n + end == len(data), f"{path}: trailing bytes"
    carried = meta["tokenizer"] in ("tokenizer.json", "sentencepiece")
    assert ("tokenizer" in raw) == carried, f"{path}: __metadata__ tokenizer {meta['tokenizer']} and the tensor disagree"
    if carried:
        assert header["tokenizer"]["dtype"] == "U8" and list(header)[-1] == "tokenizer", f"{path}: tokenizer tensor"
        del raw["tokenizer"]
    tensors = {}
    for name, values in raw.items():
        if name.endswith(".scale"):
            continue
        if header[name]["dtype"] == "I8":
            values = values * raw[name + ".scale"][:, None]
        tensors[name] = torch.from_numpy(values)
    return meta, tensors


def rebuild(meta, tensors):
    """A MinLMRef built from the file alone: the config from the metadata, the norms as `.weight`."""
    kernel = int(meta["conv_kernel_size"])
    model = MinLMRef(int(meta["num_tokens"]), int(meta["dim"]), int(meta["depth"]), ff_mult=float(meta["ff_mult"]),
                     expansion=float(meta["expansion_factor"]), conv_kernel_size=kernel or 3,
                     use_lstm=meta["cell"] == "lstm", enable_conv=kernel > 0)
    model.load_state_dict(tensors, strict=True)
    return model


def check(outdir, files, expected_file):
    """Max |logits difference| between each model file and the expected logits."""
    tokens, expected = read_expected(os.path.join(outdir, expected_file))
    diffs = {}
    for dtype, file in files.items():
        model = rebuild(*read_model_file(os.path.join(outdir, file)))
        with torch.no_grad():
            logits = model(tokens[None])[0]
        diffs[dtype] = (logits - expected).abs().max().item()
    assert diffs["f32"] <= 1e-5, f"{files['f32']}: logits differ by {diffs['f32']:.3g}"
    # the reference's cached step (conv window and hidden state carried) gives the same logits
    model = rebuild(*read_model_file(os.path.join(outdir, files["f32"])))
    with torch.no_grad():
        state, rows = None, []
        for t in tokens.tolist():
            row, state = model.step(torch.tensor([t]), state)
            rows.append(row[0])
    stepped = (torch.stack(rows) - expected).abs().max().item()
    assert stepped <= 1e-4, f"{files['f32']}: the step loop differs by {stepped:.3g}"
    return diffs


# ---------------------------------------------------------------- main

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "lm")
    os.makedirs(outdir, exist_ok=True)
    manifest = {"generator": "tools/lm_fixtures.py", "cases": []}
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, cell, dim, depth, expansion, ff_mult, kernel, old_norm, dtypes) in enumerate(CASES):
            model = build(1000 + i, cell, dim, depth, expansion, ff_mult, kernel, old_norm)
            tokens = torch.randint(0, NUM_TOKENS, (T,), generator=torch.Generator().manual_seed(3000 + i))
            with torch.no_grad():
                logits = model(tokens[None])[0]
            checkpoint = os.path.join(tmp, name + ".pt")
            torch.save(model.state_dict(), checkpoint)
            files = {"f32": name + ".safetensors"}
            files.update({dt: f"{name}.{dt}.safetensors" for dt in dtypes})
            for dt, file in files.items():
                convert(checkpoint, os.path.join(outdir, file), dt, name=name, description="random weights, for tests")
            write_expected(os.path.join(outdir, name + ".expected.bin"), tokens.tolist(), logits)
            manifest["cases"].append({
                "name": name, "cell": cell, "numTokens": NUM_TOKENS, "dim": dim, "depth": depth,
                "expansionFactor": expansion, "ffMult": ff_mult, "convKernelSize": kernel, "oldNorm": old_norm,
                "files": files, "expected": name + ".expected.bin", "seqLen": T})

            diffs = check(outdir, files, name + ".expected.bin")
            size = sum(os.path.getsize(os.path.join(outdir, f)) for f in [*files.values(), name + ".expected.bin"])
            total += size
            params = sum(p.numel() for p in model.parameters())
            print(f"{name}: {params:,} parameters, {size:,} bytes; max |logits - expected|: "
                  + ", ".join(f"{dt} {d:.3g}" for dt, d in diffs.items()))
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total += os.path.getsize(os.path.join(outdir, "manifest.json"))
    print(f"wrote {len(CASES)} cases to {outdir} ({total:,} bytes)")


if __name__ == "__main__":
    main()
