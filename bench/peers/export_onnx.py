#!/usr/bin/python3
"""Exports a mingru .safetensors model (F32) to the two ONNX graphs of bench/peers/ort_bench.mjs:

    /usr/bin/python3 bench/peers/export_onnx.py --model FILE.safetensors --out-dir DIR

DIR/full.onnx   tokens int64 [1, T] (T dynamic) -> logits float32 [1, T, num_tokens]. torch 1.13 cannot export
                aten::logcumsumexp, so the cells' scan is a TorchScript sequential loop (h = a_t h + b_t), which
                becomes an ONNX Loop over time.
DIR/step.onnx   token int64 [1], hidden float32 [depth, 1, dim_inner] (and, with a convolution, conv float32
                [depth, 1, k-1, dim]: the last k-1 conv inputs) -> logits [1, num_tokens], hidden_out (, conv_out).
                The empty state is all zeros.
Before writing, the script checks in torch that both wrappers (and their traces) match MinLMRef within 1e-4.
Opset 17. Needs no onnx package (torch.onnx serializes by itself).
"""
import argparse
import os
import sys
import warnings
from typing import List

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import load_model, log, token_at  # noqa: E402
from reference import MinRNNRef  # noqa: E402  (on sys.path through torch_bench)

TOL = 1e-4
# torch 1.13's exporter warns about Slice constant folding and prim::Constant shape inference: harmless here
warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")


@torch.jit.script
def sequential_scan(log_a, log_b):
    """h_t = a_t h_{t-1} + b_t, h_{-1} = 0, over dim 1 of [B, T, D]: the same result as reference.log_scan."""
    a = torch.exp(log_a)
    b = torch.exp(log_b)
    h = torch.zeros_like(b[:, 0])
    outs: List[torch.Tensor] = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        outs.append(h)
    return torch.stack(outs, dim=1)


class Full(nn.Module):
    """tokens [1, T] -> logits [1, T, num_tokens] (MinLMRef.forward; the scan is whatever MinRNNRef.scan is)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens):
        return self.model(tokens)


class Step(nn.Module):
    """MinLMRef.step with the state as stacked tensors: hidden [depth, 1, dim_inner], conv [depth, 1, k-1, dim]."""

    def __init__(self, model, conv):
        super().__init__()
        self.model = model
        self.conv = conv

    def forward(self, token, hidden, conv=None):
        depth = hidden.shape[0]
        state = [(conv[i] if self.conv else None, hidden[i]) for i in range(depth)]
        logits, new_state = self.model.step(token, state)
        hidden_out = torch.stack([h for _, h in new_state])
        if self.conv:
            return logits, hidden_out, torch.stack([p for p, _ in new_state])
        return logits, hidden_out


def max_diff(a, b):
    return (a - b).abs().max().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()

    model, meta = load_model(args.model)
    nt, dim, depth = int(meta["num_tokens"]), int(meta["dim"]), int(meta["depth"])
    k = int(meta["conv_kernel_size"])
    dim_inner = model.layers[0][2].dim_inner
    tokens = torch.tensor([[token_at(i, nt) for i in range(48)]])
    torch.manual_seed(0)
    tokens2 = torch.randint(0, nt, (1, 29))

    with torch.no_grad():
        # references: the log-space parallel forward and the cached step loop of MinLMRef
        ref_full = model(tokens)
        ref_full2 = model(tokens2)
        state, ref_steps = None, []
        for i in range(tokens.shape[1]):
            lg, state = model.step(tokens[:, i], state)
            ref_steps.append(lg)
        ref_steps = torch.stack(ref_steps, dim=1)

        log_scan = MinRNNRef.scan
        MinRNNRef.scan = staticmethod(sequential_scan)
        try:
            full = Full(model).eval()
            traced_full = torch.jit.trace(full, (tokens[:, :16],), check_trace=False)
            checks = {
                "full (sequential scan) vs MinLMRef.forward": max_diff(full(tokens), ref_full),
                "traced full, T=48, vs MinLMRef.forward": max_diff(traced_full(tokens), ref_full),
                "traced full, T=29, vs MinLMRef.forward": max_diff(traced_full(tokens2), ref_full2),
            }

            step = Step(model, k > 0).eval()
            h0 = torch.zeros(depth, 1, dim_inner)
            c0 = torch.zeros(depth, 1, k - 1, dim) if k > 0 else None
            example = (tokens[:, 0], h0, c0) if k > 0 else (tokens[:, 0], h0)
            traced_step = torch.jit.trace(step, example, check_trace=False)
            for name, fn in (("step wrapper", step), ("traced step", traced_step)):
                state = example[1:]
                outs = []
                for i in range(tokens.shape[1]):
                    lg, *state = fn(tokens[:, i], *state)
                    outs.append(lg)
                outs = torch.stack(outs, dim=1)
                checks[f"{name} loop vs MinLMRef.step loop"] = max_diff(outs, ref_steps)
                checks[f"{name} loop vs MinLMRef.forward"] = max_diff(outs, ref_full)
            for name, d in checks.items():
                log(f"export_onnx: {name}: max |diff| {d:.2e}")
            bad = {n: d for n, d in checks.items() if not d <= TOL}
            if bad:
                sys.exit(f"export_onnx: the wrappers disagree with MinLMRef beyond {TOL}: {bad}")

            os.makedirs(args.out_dir, exist_ok=True)
            full_path = os.path.join(args.out_dir, "full.onnx")
            torch.onnx.export(full, (tokens[:, :16],), full_path, opset_version=17,
                              input_names=["tokens"], output_names=["logits"],
                              dynamic_axes={"tokens": {1: "T"}, "logits": {1: "T"}})
            step_path = os.path.join(args.out_dir, "step.onnx")
            names_in = ["token", "hidden"] + (["conv"] if k > 0 else [])
            names_out = ["logits", "hidden_out"] + (["conv_out"] if k > 0 else [])
            torch.onnx.export(step, example, step_path, opset_version=17,
                              input_names=names_in, output_names=names_out)
        finally:
            MinRNNRef.scan = log_scan
    log(f"export_onnx: wrote {full_path} ({os.path.getsize(full_path)} bytes) and {step_path} "
        f"({os.path.getsize(step_path)} bytes)")


if __name__ == "__main__":
    try:
        main()
    except ValueError as e:
        sys.exit(f"export_onnx: {e}")
