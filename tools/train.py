#!/usr/bin/python3
"""Trains a minLM (minGRU cells): the demo model, byte-level on the King James Bible on CPU, or a larger one.

    /usr/bin/python3 tools/train.py --out models/kjv.pt [--minutes 50] [--dim 256 --depth 4 ...]
    torchrun --nproc_per_node N tools/train.py --out big.pt --text corpus.txt --tokenizer tokenizer.json ...

Data: --text FILE (UTF-8), or by default Debian's bible-kjv (`bible -f Gen1:1-Rev22:21`), one verse per
line with the verse references ("Ge1:1 ") stripped. The last tenth of the text (cut at a line boundary) is
held out for validation and never trained on. Tokens: the text's bytes (256), or with --tokenizer FILE the
ids of a Hugging Face tokenizer.json (BPE: tools/bpe.py) or a SentencePiece .model (Debian's
python3-sentencepiece), and the model's vocabulary is the tokenizer's. Reports validation bits per byte (on
windows of 1024 tokens, each from an empty state; bits over the UTF-8 bytes those tokens stand for) during
and after training, and saves the model's state_dict (tools/convert.py turns it into .safetensors) plus a
JSON log next to it (its arguments, the tokenizer's path and sha256, the loss of every step, the evaluations).

Under torchrun (DistributedDataParallel: gloo on CPU, nccl on GPUs) every rank draws the same global batch of
--batch windows from the same seeded generator and trains on its own contiguous share (--batch / world size
rows); DDP averages the gradients, so the steps are those of one process with the same --batch. Rank 0 alone
logs, validates and saves.
"""
import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import MinLMRef, MinRNNRef  # noqa: E402

VERSE_REF = re.compile(r"^[0-9A-Za-z]+\d*:\d+ ", re.M)


class SequentialScan(torch.autograd.Function):
    """h_t = a_t h_{t-1} + b_t (h_{-1} = 0) by a loop over time, forward and backward written out.

    The same recurrence as reference.log_scan, in linear space: torch 1.13's logcumsumexp made the log-space
    scan most of each training step (0.9 s per layer for 32 x 256 x 384, this loop 0.06 s; the results agree
    to ~1e-5). a, b: [B, T, D]; a in (0, 1), so the loop is stable."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = a.transpose(0, 1).contiguous(), b.transpose(0, 1).contiguous()   # time first: rows are contiguous
        h = torch.empty_like(b)
        prev = torch.zeros_like(b[0])
        for t in range(b.shape[0]):
            prev = torch.addcmul(b[t], a[t], prev, out=h[t])
        ctx.save_for_backward(a, h)
        return h.transpose(0, 1)

    @staticmethod
    def backward(ctx, grad_h):
        a, h = ctx.saved_tensors
        grad_h = grad_h.transpose(0, 1).contiguous()
        grad_b = torch.empty_like(grad_h)          # dL/dh_t, through all later steps
        grad_b[-1] = grad_h[-1]
        for t in range(grad_h.shape[0] - 2, -1, -1):
            torch.addcmul(grad_h[t], a[t + 1], grad_b[t + 1], out=grad_b[t])
        grad_a = torch.zeros_like(grad_b)
        grad_a[1:] = grad_b[1:] * h[:-1]
        return grad_a.transpose(0, 1), grad_b.transpose(0, 1)


def sequential_scan(log_a, log_b):
    return SequentialScan.apply(log_a.exp(), log_b.exp())


def train_step(model, opt, xs, clip=1.0):
    """One step on xs [batch, seq_len + 1]: mean cross-entropy of each row's next tokens, backward,
    clip_grad_norm_(clip), the optimizer's step. Returns the loss before the update (a 0-d tensor).
    npm run bench times this (bench/peers/torch_bench.py --train)."""
    logits = model(xs[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xs[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss


def load_grown(model, state):
    """Loads a smaller model's state_dict into `model`, which may have more layers or a convolution it lacks.
    Each new piece starts as the identity on the residual stream (its last projection zeroed), so the grown
    model computes exactly what the smaller one did and training goes on from there. Returns the new pieces."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        sys.exit(f"--init has tensors this model lacks: {', '.join(unexpected)}")
    residual_outputs = re.compile(r"^layers\.\d+\.(0\.net\.1\.|2\.to_out\.|4\.2\.)")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in missing:
            if residual_outputs.match(name):
                params[name].zero_()
    return sorted({".".join(n.split(".")[:3]) for n in missing})


def add_dropout(model, p):
    """nn.Dropout(p) on the residual stream after each layer (minLM's dropout variant)."""
    model.dropout = drop = torch.nn.Dropout(p)  # a submodule, so model.eval() turns it off

    def forward(tokens):
        x = model.token_emb(tokens)
        for conv, norm1, cell, norm2, ff in model.layers:
            if conv is not None:
                x = conv(x) + x
            x = cell(norm1(x))[0] + x
            x = drop(ff(norm2(x)) + x)
        return model.to_logits(model.norm(x))
    model.forward = forward


def kjv_text():
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout.decode("utf-8")
    return VERSE_REF.sub("", raw)


def split(text, held_out=0.1):
    """Training text and the last tenth (cut at a line start) as validation."""
    cut = text.index("\n", int(len(text) * (1 - held_out))) + 1
    return text[:cut], text[cut:]


def to_tensor(text):
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()


class Tokens:
    """What the model reads: bytes (the default), or the ids of a tokenizer file.

    encode(text) -> a 1-D long tensor; num_tokens: the vocabulary size; lengths: None for bytes, else a tensor
    of the UTF-8 bytes each id stands for (bits per byte divides by them); record: what the JSON log keeps,
    so that tools/convert.py --tokenizer can be given the same file."""

    def __init__(self, path=None):
        self.lengths = None
        if path is None:
            self.num_tokens, self.encode = 256, to_tensor
            self.record = {"kind": "bytes", "num_tokens": 256}
            return
        with open(path, "rb") as f:
            sha256 = hashlib.sha256(f.read()).hexdigest()
        if path.endswith(".model"):
            import sentencepiece  # Debian's python3-sentencepiece
            sp = sentencepiece.SentencePieceProcessor(model_file=path)
            kind, self.num_tokens, ids = "sentencepiece", sp.get_piece_size(), sp.encode
            lengths = [1 if sp.is_byte(i) else 0 if sp.is_control(i) else
                       len(sp.id_to_piece(i).replace("\u2581", " ").encode("utf-8")) for i in range(self.num_tokens)]
        else:
            from bpe import BPE
            tok = BPE.from_file(path)
            kind, self.num_tokens, ids = "tokenizer.json", tok.num_tokens, tok.encode
            lengths = [len(tok.token_bytes(i)) if i in tok.id_to_token else 0 for i in range(self.num_tokens)]
        self.lengths = torch.tensor(lengths)
        self.encode = lambda text: torch.tensor(ids(text), dtype=torch.long)
        self.record = {"kind": kind, "path": os.path.abspath(path), "sha256": sha256, "num_tokens": self.num_tokens}


@torch.no_grad()
def bits_per_byte(model, data, window=1024, max_windows=None, lengths=None):
    """Bits per byte of data's tokens in windows of `window` (each from an empty state): the summed
    cross-entropy over the UTF-8 bytes the predicted tokens stand for (one each for bytes)."""
    model.eval()
    device = next(model.parameters()).device
    n = (len(data) - 1) // window
    if max_windows:
        n = min(n, max_windows)
    total, count = 0.0, 0
    for i in range(0, n, 16):
        xs = torch.stack([data[j * window:(j + 1) * window + 1] for j in range(i, min(n, i + 16))])
        logits = model(xs[:, :-1].to(device))
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xs[:, 1:].reshape(-1).to(device),
                                 reduction="sum").item()
        count += xs[:, 1:].numel() if lengths is None else lengths[xs[:, 1:]].sum().item()
    model.train()
    return total / count / math.log(2)


def evaluate_and_keep(model, val, path, log, step, elapsed, best, lengths=None):
    """Scores the model on a sample of the held-out text (the first 128 windows) and saves its weights to path
    when they beat the best so far (early stopping: the training text is small enough to be overfitted).
    Returns the best sample score."""
    bpb = bits_per_byte(model, val, max_windows=128, lengths=lengths)
    log["evals"].append({"step": step, "minutes": elapsed / 60, "val_bpb_sample": bpb})
    kept = bpb < best
    if kept:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, path)
        log["kept_step"] = step
    print(f"  validation (128 windows): {bpb:.4f} bits/byte{' (best so far: saved)' if kept else ''}", flush=True)
    return min(bpb, best)


def start_distributed(device):
    """(rank, world size, device) under torchrun (its RANK, WORLD_SIZE and LOCAL_RANK), (0, 1, device) otherwise.
    On GPUs each rank takes the GPU of its LOCAL_RANK and the ranks talk through nccl; on CPU through gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world, device


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--text", help="a UTF-8 text file to train on (default: the King James Bible, Debian's bible-kjv)")
    ap.add_argument("--tokenizer", help="a Hugging Face tokenizer.json (BPE) or SentencePiece .model: the model's "
                    "vocabulary (default: bytes, 256 tokens)")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when there is one)")
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--expansion", type=float, default=1.5)
    ap.add_argument("--ff-mult", type=float, default=4)
    ap.add_argument("--conv", type=int, default=0, help="causal conv kernel size (0 = none)")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32,
                    help="windows per step, over all ranks under torchrun (each takes batch / world size)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--minutes", type=float, default=50, help="training time budget")
    ap.add_argument("--steps", type=int, default=0,
                    help="a budget in steps instead of minutes (the schedule then ignores time: a run paused or "
                         "slowed by other work on the machine trains the same)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of each process")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--init", help="start from this state_dict or F32 .safetensors instead of random weights (same dim and width; "
                    "more layers or a convolution may be added: they start as the identity)")
    ap.add_argument("--warmup", type=int, default=200, help="steps of linear learning-rate warm-up")
    ap.add_argument("--dropout", type=float, default=0.0,
                    help="nn.Dropout on the residual stream after each layer, as minLM's dropout variant and the "
                         "engine's trainer (inference is unchanged)")
    a = ap.parse_args()

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    rank, world, device = start_distributed(device)
    if a.batch % world:
        sys.exit(f"--batch {a.batch} must be a multiple of the world size {world}")
    share = a.batch // world
    say = print if rank == 0 else (lambda *args, **kw: None)
    torch.set_num_threads(a.threads)
    MinRNNRef.scan = staticmethod(sequential_scan)
    torch.manual_seed(a.seed)
    tokens_of = Tokens(a.tokenizer)
    train_text, val_text = split(kjv_text() if a.text is None else open(a.text, encoding="utf-8").read())
    train, val = tokens_of.encode(train_text), tokens_of.encode(val_text)
    if a.tokenizer is None:
        say(f"train {len(train):,} bytes, validation {len(val):,} bytes (starts: {val_text[:60]!r})", flush=True)
    else:
        say(f"{tokens_of.record['kind']} {a.tokenizer}: {tokens_of.num_tokens:,} tokens; train {len(train):,} tokens, "
            f"validation {len(val):,} tokens (starts: {val_text[:60]!r})", flush=True)
    if len(train) <= a.seq_len + 1:
        sys.exit(f"the training text has {len(train)} tokens: --seq-len {a.seq_len} needs more")

    model = MinLMRef(tokens_of.num_tokens, a.dim, a.depth, ff_mult=a.ff_mult, expansion=a.expansion,
                     conv_kernel_size=max(a.conv, 1), enable_conv=a.conv > 0)
    if a.init:
        if a.init.endswith(".safetensors"):  # an F32 mingru file (same tensor names)
            from lm_fixtures import read_model_file
            state = read_model_file(a.init)[1]
        else:
            state = torch.load(a.init)
        grown = load_grown(model, state)
        say(f"weights from {a.init}" + (f"; new, starting as the identity: {', '.join(grown)}" if grown else ""),
            flush=True)
    if a.dropout > 0:
        add_dropout(model, a.dropout)
    params = sum(p.numel() for p in model.parameters())
    say(f"model: dim {a.dim}, depth {a.depth}, expansion {a.expansion}, ff x{a.ff_mult}, conv {a.conv or 'none'}: "
        f"{params:,} parameters" + (f"; {world} processes, {share} windows each per step" if world > 1 else ""),
        flush=True)
    model.to(device)
    net = model  # what train_step runs: DDP averages the ranks' gradients in backward
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.01)
    budget = a.minutes * 60
    log = {"args": vars(a), "parameters": params, "tokenizer": tokens_of.record, "world_size": world,
           "train_bytes": len(train_text.encode("utf-8")), "val_bytes": len(val_text.encode("utf-8")), "evals": []}
    if a.tokenizer is not None:
        log.update({"train_tokens": len(train), "val_tokens": len(val)})
    losses = []
    start = time.time()
    step, tokens, best = 0, 0, math.inf
    while True:
        elapsed = time.time() - start
        if world > 1 and not a.steps:  # rank 0's clock: every rank must take the same learning rates and stop together
            clock = torch.tensor([elapsed], dtype=torch.float64, device=device)
            dist.broadcast(clock, 0)
            elapsed = clock.item()
        if (step >= a.steps) if a.steps else (elapsed > budget):
            break
        # cosine decay over the budget, after a short warm-up
        frac = step / a.steps if a.steps else elapsed / budget
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train) - a.seq_len - 1, (a.batch,))  # the global batch, the same on every rank
        mine = starts[rank * share:(rank + 1) * share]
        xs = torch.stack([train[s:s + a.seq_len + 1] for s in mine.tolist()]).to(device)
        loss = train_step(net, opt, xs).detach()
        if world > 1:  # the global batch's mean: the ranks' shares are the same size
            dist.all_reduce(loss)
            loss /= world
        losses.append(loss.item())
        step += 1
        tokens += a.batch * a.seq_len
        if step % 50 == 0:
            say(f"step {step} {elapsed / 60:.1f} min, {tokens / elapsed:.0f} tokens/s, lr {lr:.2e}, "
                f"train {losses[-1] / math.log(2):.3f} bits/{'byte' if a.tokenizer is None else 'token'}", flush=True)
        if step % a.eval_every == 0 and rank == 0:  # the other ranks wait for it in the next step's all-reduce
            best = evaluate_and_keep(model, val, a.out, log, step, elapsed, best, tokens_of.lengths)
    if rank == 0:
        minutes = (time.time() - start) / 60
        evaluate_and_keep(model, val, a.out, log, step, minutes * 60, best, tokens_of.lengths)
        model.load_state_dict(torch.load(a.out))
        bpb = bits_per_byte(model, val, lengths=tokens_of.lengths)
        log.update({"steps": step, "tokens": tokens, "minutes": minutes, "kept_step": log["kept_step"], "val_bpb": bpb,
                    "train_losses": losses})
        print(f"done: {step} steps, {tokens:,} tokens in {minutes:.1f} min; kept the weights of step {log['kept_step']}: "
              f"validation {bpb:.4f} bits/byte (all {len(val):,} held-out {'bytes' if a.tokenizer is None else 'tokens'}, "
              f"windows of 1024)", flush=True)
        with open(os.path.splitext(a.out)[0] + ".log.json", "w") as f:
            json.dump(log, f, indent=1)
    if world > 1:
        dist.barrier()  # the others wait for rank 0's last evaluation and files
        dist.destroy_process_group()

if __name__ == "__main__":
    main()
