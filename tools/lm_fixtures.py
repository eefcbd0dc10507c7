#!/usr/bin/python3
"""Writes the language-model fixtures of the tests (deterministic: running it twice gives the same bytes).

    /usr/bin/python3 tools/lm_fixtures.py [OUTDIR]       # default tests/fixtures/lm

For each case: a random-weight MinLMRef (tools/reference.py) is saved with torch.save to a temporary
checkpoint, converted by tools/convert.py to NAME.safetensors (and for some cases NAME.f16 / NAME.q8), and
the reference's logits over a fixed random token sequence are written to NAME.expected.bin:
    b"MGLMEXP1", u32 T, u32 V, int32 tokens[T], float32 logits[T, V]   (little-endian)
manifest.json lists the cases.
"""
import json
import os
import struct
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert import convert  # noqa: E402
from reference import MinLMRef  # noqa: E402

T = 48
CASES = [
    # name, cell, dim, depth, expansion, ff_mult, conv kernel (0 = none), old minGRULM norms, extra dtypes
    ("gru-d32-l2", "gru", 32, 2, 1.5, 4, 0, False, ("f16", "q8")),
    ("gru-d24-l3-conv3", "gru", 24, 3, 2.0, 2, 3, False, ()),
    ("lstm-d32-l2", "lstm", 32, 2, 1.5, 4, 0, False, ("f16", "q8")),
    ("lstm-d16-l2-conv4-e1", "lstm", 16, 2, 1.0, 3, 4, False, ()),
    ("gru-d40-l1-e1", "gru", 40, 1, 1.0, 2, 0, False, ()),
    ("oldnorm-gru-d32-l2-conv3", "gru", 32, 2, 1.5, 4, 3, True, ()),
]


def randomise(model, seed):
    """Every parameter random, so that a wrong index or a skipped term shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("norm.weight") or (name.endswith(".weight") and p.dim() == 1):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name == "token_emb.weight":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "lm")
    os.makedirs(out, exist_ok=True)
    manifest = {"generator": "tools/lm_fixtures.py", "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, cell, dim, depth, expansion, ff_mult, kernel, old, dtypes) in enumerate(CASES):
            torch.manual_seed(1000 + i)
            model = MinLMRef(256, dim, depth, ff_mult=ff_mult, expansion=expansion, conv_kernel_size=max(kernel, 1),
                             use_lstm=cell == "lstm", enable_conv=kernel > 0, old_norm=old)
            randomise(model, 2000 + i)
            tokens = torch.randint(0, 256, (1, T), generator=torch.Generator().manual_seed(3000 + i))
            with torch.no_grad():
                logits = model(tokens)[0]
            ckpt = os.path.join(tmp, name + ".pt")
            torch.save(model.state_dict(), ckpt)
            files = {"f32": name + ".safetensors"}
            for dt in dtypes:
                files[dt] = f"{name}.{dt}.safetensors"
            for dt, file in files.items():
                convert(ckpt, os.path.join(out, file), dt, name=name, description="random weights, for tests")
            with open(os.path.join(out, name + ".expected.bin"), "wb") as f:
                f.write(b"MGLMEXP1" + struct.pack("<II", T, 256))
                f.write(tokens[0].to(torch.int32).numpy().astype("<i4").tobytes())
                f.write(logits.contiguous().numpy().astype("<f4").tobytes())
            manifest["cases"].append({
                "name": name, "cell": cell, "numTokens": 256, "dim": dim, "depth": depth, "expansionFactor": expansion,
                "ffMult": ff_mult, "convKernelSize": kernel, "oldNorm": old, "files": files,
                "expected": name + ".expected.bin", "seqLen": T})
            print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters, files {', '.join(files.values())}")
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
