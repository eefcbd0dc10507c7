#!/usr/bin/python3
"""PyTorch peers of `npm run bench`: times tools/reference.py's MinLMRef (prefill with its parallel log-space
scan, one-token steps with its cached `step`) on a mingru .safetensors model and prints ONE JSON line.

    /usr/bin/python3 bench/peers/torch_bench.py --model FILE.safetensors --threads N \
        [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]
    /usr/bin/python3 bench/peers/torch_bench.py --model FILE.safetensors --threads N \
        --train STEPS --text FILE [--batch 32] [--seq-len 256] [--mingru-pytorch [DIR]]

With --train: tools/train.py's step (its sequential scan, AdamW lr 3e-4 (a fine-tuning rate), betas (0.9, 0.95),
weight decay 0.01, clip 1), timed over STEPS steps after one untimed one, on the windows every engine of the bench takes: step s, row
b starts at byte ((s * batch + b) * 7919) % (len(text) - seq_len) of the text. Reports tokens/s and the losses.
With --mingru-pytorch: the same steps and settings with minGRU-pytorch's own minLM (its log-space scan, its loss
`model(x, return_loss=True)`, torch.optim.AdamW), what its users run, given the file's weights. Its source is not
vendored: DIR is a checkout of github.com/lucidrains/minGRU-pytorch (the directory holding minGRU_pytorch/;
default bench/.work/minGRU-pytorch), or an installed minGRU-pytorch when DIR is absent. torch < 2.4 lacks the
nn.RMSNorm it imports: MINGRU_PYTORCH_RMSNORM below stands in (torch.nn.RMSNorm's maths, eps = float32 epsilon).

Also the safetensors loader of bench/peers/export_onnx.py (load_model).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from reference import MinLMRef  # noqa: E402


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def read_safetensors(path):
    """(metadata dict, {name: float32 numpy array}); F32 tensors only (docs/format.md)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} beyond the file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {info['dtype']}; the peers read F32 models only "
                             f"(write one with tools/convert.py --dtype f32 or tests/helpers/model-maker.mjs with dtype f32)")
        start, end = info["data_offsets"]
        arr = np.frombuffer(data, dtype="<f4", count=(end - start) // 4, offset=base + start)
        tensors[name] = arr.reshape(info["shape"]).astype(np.float32)
    return meta, tensors


def model_config(meta):
    """The MinLMRef keyword arguments from the metadata of docs/format.md."""
    try:
        k = int(meta["conv_kernel_size"])
        return dict(num_tokens=int(meta["num_tokens"]), dim=int(meta["dim"]), depth=int(meta["depth"]),
                    ff_mult=float(meta["ff_mult"]), expansion=float(meta["expansion_factor"]),
                    conv_kernel_size=k if k > 0 else 3, enable_conv=k > 0, use_lstm=meta["cell"] == "lstm")
    except KeyError as e:
        raise ValueError(f"missing metadata key {e}") from None


def load_model(path):
    """(MinLMRef in eval mode with the file's weights loaded strictly, metadata)."""
    meta, tensors = read_safetensors(path)
    if meta.get("cell") not in ("gru", "lstm"):
        raise ValueError(f"{path}: metadata cell must be gru or lstm, not {meta.get('cell')!r}")
    model = MinLMRef(**model_config(meta))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return model.eval(), meta


def token_at(i, num_tokens):
    return (i * 7919) % num_tokens


def window_starts(step, batch, seq_len, length):
    """The bench's training windows (every engine's): where step `step`'s rows start in a text of `length`."""
    return [((step * batch + b) * 7919) % (length - seq_len) for b in range(batch)]


class RMSNormShim(torch.nn.Module):
    """torch.nn.RMSNorm(dim) as minLM builds it (eps None: the float32 epsilon), for torch < 2.4."""

    def __init__(self, dim):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + torch.finfo(x.dtype).eps) * self.weight


def mingru_pytorch_model(path, src):
    """(minGRU-pytorch's minLM with the file's weights loaded strictly, its version)."""
    if src and os.path.isdir(os.path.join(src, "minGRU_pytorch")):
        sys.path.insert(0, src)
    if not hasattr(torch.nn, "RMSNorm"):
        torch.nn.RMSNorm = RMSNormShim
    try:
        from minGRU_pytorch.minLM import minLM
    except ImportError as e:
        raise ValueError(f"minGRU-pytorch not found ({e}): clone github.com/lucidrains/minGRU-pytorch into "
                         "bench/.work/minGRU-pytorch or pass --mingru-pytorch DIR") from None
    version = "?"
    toml = os.path.join(src or "", "pyproject.toml")
    if os.path.exists(toml):
        version = next((line.split('"')[1] for line in open(toml) if line.startswith("version")), "?")
    meta, tensors = read_safetensors(path)
    c = model_config(meta)
    model = minLM(num_tokens=c["num_tokens"], dim=c["dim"], depth=c["depth"], ff_mult=c["ff_mult"],
                  expansion=c["expansion"], conv_kernel_size=c["conv_kernel_size"], use_lstm=c["use_lstm"],
                  enable_conv=c["enable_conv"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return model, version


def mingru_pytorch_step(model, opt, xs, clip=1.0):
    """train_step's work with minLM's own loss (cross-entropy of x[:, :-1]'s logits against x[:, 1:])."""
    loss = model(xs, return_loss=True)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss


def train(args):
    import train as trainer  # tools/train.py
    torch.set_num_threads(args.threads)
    if args.mingru_pytorch is not None:
        model, version = mingru_pytorch_model(args.model, args.mingru_pytorch)
        step, engine = mingru_pytorch_step, "minGRU-pytorch"
        notes = (f"minGRU-pytorch {version}'s minLM (log-space scan: cumsum + logcumsumexp, and autograd through it), "
                 "its loss, clip_grad_norm_ and torch.optim.AdamW")
    else:
        model, _ = load_model(args.model)
        trainer.MinRNNRef.scan = staticmethod(trainer.sequential_scan)
        step, engine, version = trainer.train_step, "pytorch", torch.__version__
        notes = "tools/train.py's train_step with its sequential scan (forward and backward loops over time)"
    model.train()
    with open(args.text, "rb") as f:
        text = torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).long()
    if len(text) <= args.seq_len:
        raise ValueError(f"{args.text}: {len(text)} bytes, fewer than seq_len + 1")
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.01)
    losses = []
    for s in range(args.train + 1):
        if s == 1:
            t0 = time.perf_counter()
        xs = torch.stack([text[i:i + args.seq_len + 1] for i in window_starts(s, args.batch, args.seq_len, len(text))])
        losses.append(step(model, opt, xs).item())
    dt = time.perf_counter() - t0
    print(json.dumps({
        "engine": engine, "version": version, "torch": torch.__version__, "threads": args.threads,
        "trainTokensPerSecond": args.train * args.batch * args.seq_len / dt,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "losses": losses,
        "notes": notes,
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--prefill", type=int, default=4096)
    ap.add_argument("--prompt", type=int, default=64)
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--train", type=int, default=0, help="time this many training steps instead")
    ap.add_argument("--text", help="the text to train on (with --train)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--mingru-pytorch", nargs="?", const=os.path.join(ROOT, "bench", ".work", "minGRU-pytorch"),
                    help="train minGRU-pytorch's own minLM instead (a checkout's directory; with --train)")
    args = ap.parse_args()
    if args.train:
        if not args.text or min(args.train, args.batch, args.seq_len, args.threads) < 1:
            ap.error("--train needs --text, and --train, --batch, --seq-len and --threads of at least 1")
        return train(args)
    if min(args.prefill, args.prompt, args.steps, args.runs, args.threads) < 1:
        ap.error("--threads, --prefill, --prompt, --steps and --runs must be at least 1")

    torch.set_num_threads(args.threads)
    model, meta = load_model(args.model)
    nt = int(meta["num_tokens"])
    tokens = torch.tensor([[token_at(i, nt) for i in range(max(args.prefill, args.prompt + args.steps))]])

    with torch.no_grad():
        # check + warm-up: the parallel forward over the prompt
        prompt_logits = model(tokens[:, :args.prompt])[0, -1]
        model(tokens[:, :min(64, args.prefill)])

        prefill_tps = []
        for r in range(args.runs):
            t0 = time.perf_counter()
            model(tokens[:, :args.prefill])
            dt = time.perf_counter() - t0
            prefill_tps.append(args.prefill / dt)
            log(f"torch prefill run {r + 1}/{args.runs}: {args.prefill} tokens in {dt:.3f} s")

        # the step state after the prompt: MinLMRef.step one token at a time from an empty state (untimed)
        state = None
        for i in range(args.prompt):
            seq_logits, state = model.step(tokens[:, i], state)
        prompt_state = state
        seq_vs_parallel = (seq_logits[0] - prompt_logits).abs().max().item()
        # warm-up steps
        s = prompt_state
        for i in range(min(8, args.steps)):
            _, s = model.step(tokens[:, args.prompt + i], s)

        step_tps = []
        for r in range(args.runs):
            state = prompt_state
            t0 = time.perf_counter()
            for i in range(args.steps):
                logits, state = model.step(tokens[:, args.prompt + i], state)
            dt = time.perf_counter() - t0
            step_tps.append(args.steps / dt)
            log(f"torch step run {r + 1}/{args.runs}: {args.steps} steps in {dt:.3f} s")

    out = {
        "engine": "pytorch",
        "version": torch.__version__,
        "threads": args.threads,
        "prefillTokensPerSecond": statistics.median(prefill_tps),
        "stepTokensPerSecond": statistics.median(step_tps),
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "check": {"promptLogits": prompt_logits.tolist(), "stepLogits": logits[0].tolist()},
        "notes": ("tools/reference.py MinLMRef, F32, torch.no_grad, batch 1. Prefill: its parallel forward "
                  "(log-space scan: cumsum + logcumsumexp). Step: its cached step(); the prompt state comes "
                  "from running step() over the prompt tokens one at a time (untimed); promptLogits from the "
                  f"parallel forward (step-loop logits differ by {seq_vs_parallel:.2e}). Median of {args.runs} runs."),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        sys.exit(f"torch_bench: {e}")
