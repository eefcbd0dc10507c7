#!/usr/bin/python3
"""Writes the fixtures of models that carry their tokenizer (deterministic: running it twice gives the same bytes).

    /usr/bin/python3 tools/tokenizer_fixtures.py [OUTDIR]      # default OUTDIR: tests/fixtures/vocab

Needs node with the npm devDependency tiktoken (GPT-2's tokenizer.json is built by tools/gpt2_tokenizer_json.mjs
from OpenAI's ranks) and Debian's python3-sentencepiece and python3-regex (the ids of the texts).

Per case NAME: a random-weight MinLMRef (tools/reference.py, initialised as tools/lm_fixtures.py's build does) is
saved with torch.save under the case's tensor names and converted by tools/convert.py with --tokenizer FILE to
NAME.safetensors, which carries the tokenizer (docs/format.md). NAME.expected.bin holds PyTorch's logits over the
tokenizer's ids of the case's text, in tools/lm_fixtures.py's format (b"MGLMEXP1", u32 T, u32 num_tokens,
int32 tokens[T], float32 logits[T, num_tokens]). manifest.json lists the cases with their texts.

- minGRULM-gpt2-d8-l1: suayptalha/minGRULM-base's configuration (lucidrains' older minGRULM: gamma norms, GPT-2's
  50,257 tokens, expansion 1.5, ff_mult 4, no conv) and its tensor names (the Hugging Face wrapper's
  `model.min_gru_model.` prefix), at dim 8 and depth 1; GPT-2's tokenizer.json; --dtype f16. Its weights are
  rounded to float16 before it runs, so the F16 file holds exactly the model PyTorch ran.
- lstm-spm-bpe-d16-l2: a minLM (minLSTM, conv 3) of 2,048 tokens with tests/fixtures/tokenizers/spm-bpe.model
  (2,000 pieces: a vocabulary smaller than the embedding fits); F32.

Self-check: each file is read back with tools/lm_fixtures.py's independent reader, a MinLMRef rebuilt from it, and
its logits compared with the expected ones (to 1e-5); the embedded bytes must be the tokenizer file's.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bpe import BPE  # noqa: E402
from convert import convert  # noqa: E402
from lm_fixtures import build, read_expected, read_model_file, rebuild, write_expected  # noqa: E402

GPT2_TEXT = "Once upon a tiny time<|endoftext|>"  # 6 tokens: 50,257 logits each
SPM_TEXT = "The quick brown fox jumps over the lazy dog. Naïve café, 東京 🙂!"
# name, tokenizer (None: GPT-2's, built here), cell, num_tokens, dim, depth, expansion, ff_mult, conv, old norms,
# name prefix, dtype, text
CASES = [
    ("minGRULM-gpt2-d8-l1", None, "gru", 50257, 8, 1, 1.5, 4, 0, True, "model.min_gru_model.", "f16", GPT2_TEXT),
    ("lstm-spm-bpe-d16-l2", "tests/fixtures/tokenizers/spm-bpe.model", "lstm", 2048, 16, 2, 1.5, 2, 3, False, "",
     "f32", SPM_TEXT),
]


def gpt2_tokenizer_json(path):
    subprocess.run(["node", os.path.join(HERE, "gpt2_tokenizer_json.mjs"), path], check=True, cwd=ROOT)


def ids_of(tokenizer, text):
    """The tokenizer's ids of text: tools/bpe.py for a tokenizer.json, Debian's sentencepiece for a .model."""
    if tokenizer.endswith(".model"):
        import sentencepiece
        return sentencepiece.SentencePieceProcessor(model_file=tokenizer).encode(text)
    return BPE.from_file(tokenizer).encode(text)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "fixtures", "vocab")
    os.makedirs(outdir, exist_ok=True)
    manifest = {"generator": "tools/tokenizer_fixtures.py", "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, tokenizer, cell, V, dim, depth, expansion, ff_mult, kernel, old_norm, prefix, dtype,
                text) in enumerate(CASES):
            if tokenizer is None:
                tokenizer = os.path.join(tmp, "gpt2.tokenizer.json")
                gpt2_tokenizer_json(tokenizer)
                kind = "tokenizer.json"
            else:
                tokenizer = os.path.join(ROOT, tokenizer)
                kind = "sentencepiece"
            model = build(5000 + i, cell, dim, depth, expansion, ff_mult, kernel, old_norm, num_tokens=V)
            if dtype == "f16":  # the weights the F16 file will hold, exactly
                with torch.no_grad():
                    for pname, p in model.named_parameters():  # a gamma is written as gamma + 1
                        one = 1.0 if pname.endswith("gamma") else 0.0
                        p.copy_((p + one).half().float() - one)
            tokens = ids_of(tokenizer, text)
            assert max(tokens) < V, name
            with torch.no_grad():
                logits = model(torch.tensor([tokens]))[0]
            checkpoint = os.path.join(tmp, name + ".pt")
            torch.save({prefix + k: v for k, v in model.state_dict().items()}, checkpoint)
            file = name + ".safetensors"
            convert(checkpoint, os.path.join(outdir, file), dtype, name=name, tokenizer=tokenizer,
                    description="random weights, for tests")
            expected = name + ".expected.bin"
            write_expected(os.path.join(outdir, expected), tokens, logits)

            # the self-check: the file alone gives the logits, and carries the tokenizer's bytes exactly
            meta, tensors = read_model_file(os.path.join(outdir, file))
            assert meta["tokenizer"] == kind, (name, meta["tokenizer"])
            data = open(os.path.join(outdir, file), "rb").read()
            embedded = open(tokenizer, "rb").read()
            assert data.endswith(embedded), f"{file}: the tokenizer is not its last bytes"
            want_tokens, want = read_expected(os.path.join(outdir, expected))
            with torch.no_grad():
                diff = (rebuild(meta, tensors)(want_tokens[None])[0] - want).abs().max().item()
            assert diff <= 1e-5, f"{file}: logits differ by {diff:.3g}"
            manifest["cases"].append({
                "name": name, "file": file, "expected": expected, "tokenizer": kind,
                "tokenizerSource": "tools/gpt2_tokenizer_json.mjs" if kind == "tokenizer.json"
                else os.path.relpath(tokenizer, ROOT),
                "tokenizerBytes": len(embedded), "cell": cell, "numTokens": V, "dim": dim, "depth": depth,
                "dtype": dtype, "text": text, "seqLen": len(tokens)})
            print(f"{name}: {kind} ({len(embedded):,} bytes), {len(tokens)} tokens, {dtype}; "
                  f"{os.path.getsize(os.path.join(outdir, file)):,} + {os.path.getsize(os.path.join(outdir, expected)):,} "
                  f"bytes; max |logits(file) - expected| {diff:.3g}")
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
