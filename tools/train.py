#!/usr/bin/python3
"""Trains the demo model: a byte-level minLM (minGRU cells) on the King James Bible, on CPU.

    /usr/bin/python3 tools/train.py --out models/kjv.pt [--minutes 50] [--dim 256 --depth 4 ...]

Data: Debian's bible-kjv (`bible -f Gen1:1-Rev22:21`), one verse per line with the verse references
("Ge1:1 ") stripped. The last tenth of the text (from Nehemiah's neighbourhood on... it is cut at a line
boundary) is held out for validation and never trained on. Reports validation bits per byte (on windows
of 1024 bytes, each from an empty state) during and after training, and saves the model's state_dict
(tools/convert.py turns it into .safetensors) plus a JSON log next to it.
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import MinLMRef  # noqa: E402

VERSE_REF = re.compile(r"^[0-9A-Za-z]+\d*:\d+ ", re.M)


def kjv_text():
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout.decode("utf-8")
    return VERSE_REF.sub("", raw)


def split(text, held_out=0.1):
    """Training text and the last tenth (cut at a line start) as validation."""
    cut = text.index("\n", int(len(text) * (1 - held_out))) + 1
    return text[:cut], text[cut:]


def to_tensor(text):
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()


@torch.no_grad()
def bits_per_byte(model, data, window=1024, max_windows=None):
    model.eval()
    n = (len(data) - 1) // window
    if max_windows:
        n = min(n, max_windows)
    total, count = 0.0, 0
    for i in range(0, n, 16):
        xs = torch.stack([data[j * window:(j + 1) * window + 1] for j in range(i, min(n, i + 16))])
        logits = model(xs[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xs[:, 1:].reshape(-1), reduction="sum").item()
        count += xs[:, 1:].numel()
    model.train()
    return total / count / math.log(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--expansion", type=float, default=1.5)
    ap.add_argument("--ff-mult", type=float, default=4)
    ap.add_argument("--conv", type=int, default=0, help="causal conv kernel size (0 = none)")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--minutes", type=float, default=50, help="training time budget")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=500)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train_text, val_text = split(kjv_text())
    train, val = to_tensor(train_text), to_tensor(val_text)
    print(f"train {len(train):,} bytes, validation {len(val):,} bytes (starts: {val_text[:60]!r})", flush=True)

    model = MinLMRef(256, a.dim, a.depth, ff_mult=a.ff_mult, expansion=a.expansion, conv_kernel_size=max(a.conv, 1),
                     enable_conv=a.conv > 0)
    params = sum(p.numel() for p in model.parameters())
    print(f"model: dim {a.dim}, depth {a.depth}, expansion {a.expansion}, ff x{a.ff_mult}, conv {a.conv or 'none'}: "
          f"{params:,} parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.01)
    budget = a.minutes * 60
    log = {"args": vars(a), "parameters": params, "train_bytes": len(train), "val_bytes": len(val), "evals": []}
    start = time.time()
    step, tokens = 0, 0
    while True:
        elapsed = time.time() - start
        if elapsed > budget:
            break
        # cosine decay over the time budget, after a short warm-up
        frac = elapsed / budget
        lr = a.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train) - a.seq_len - 1, (a.batch,))
        xs = torch.stack([train[s:s + a.seq_len + 1] for s in starts.tolist()])
        logits = model(xs[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), xs[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += xs[:, 1:].numel()
        if step % 50 == 0:
            print(f"step {step} {elapsed / 60:.1f} min, {tokens / elapsed:.0f} tokens/s, lr {lr:.2e}, "
                  f"train {loss.item() / math.log(2):.3f} bits/byte", flush=True)
        if step % a.eval_every == 0:
            bpb = bits_per_byte(model, val, max_windows=64)
            log["evals"].append({"step": step, "minutes": elapsed / 60, "val_bpb_sample": bpb})
            print(f"  validation (64 windows): {bpb:.3f} bits/byte", flush=True)
            torch.save(model.state_dict(), a.out)
    minutes = (time.time() - start) / 60
    torch.save(model.state_dict(), a.out)
    bpb = bits_per_byte(model, val)
    log.update({"steps": step, "tokens": tokens, "minutes": minutes, "val_bpb": bpb})
    print(f"done: {step} steps, {tokens:,} tokens in {minutes:.1f} min; validation {bpb:.4f} bits/byte "
          f"(all {len(val):,} held-out bytes, windows of 1024)", flush=True)
    with open(os.path.splitext(a.out)[0] + ".log.json", "w") as f:
        json.dump(log, f, indent=1)


if __name__ == "__main__":
    main()
