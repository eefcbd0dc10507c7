#!/usr/bin/python3
"""PyTorch reference of the minGRU and minLSTM layers, in the log-space form of the paper
("Were RNNs All We Needed?", Feng et al. 2024, appendix B), with minGRU-pytorch's weight layout.

This is the independent reference the engine is checked against: it evaluates the recurrence with
Heinsen's log-space scan (cumsum / logcumsumexp), not the direct recurrence the C code uses.

Run as a script, it writes the golden fixtures of the tests:
    /usr/bin/python3 tools/reference.py [OUT]      # default OUT: tests/fixtures/golden-layers.bin
"""
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn


def g(x):
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x):
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_scan(log_a, log_b):
    """h_t = a_t h_{t-1} + b_t with h_{-1} = 0, computed as exp(a*_t + logcumsumexp(log b - a*)) (Heinsen)."""
    a_star = torch.cumsum(log_a, dim=1)
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))


class MinRNNRef(nn.Module):
    """minGRU (cell='gru': projection rows hidden|gate) or minLSTM (cell='lstm': hidden|f|i).
    `scan(log_a, log_b)` is the recurrence solver: the log-space scan here; tools/train.py swaps in a faster
    sequential one with the same result."""

    scan = staticmethod(log_scan)

    def __init__(self, dim, expansion_factor=1.0, cell="gru"):
        super().__init__()
        self.cell = cell
        self.dim_inner = int(dim * expansion_factor)
        n = 2 if cell == "gru" else 3
        proj = nn.Linear(dim, self.dim_inner * n, bias=False)
        # the state_dict names of minGRU-pytorch
        if cell == "gru":
            self.to_hidden_and_gate = proj
        else:
            self.to_hidden_and_f_i_gate = proj
        self.to_out = nn.Linear(self.dim_inner, dim, bias=False) if expansion_factor != 1.0 else nn.Identity()

    def proj(self):
        return self.to_hidden_and_gate if self.cell == "gru" else self.to_hidden_and_f_i_gate

    def coefficients(self, x):
        """log a_t and log b_t of the recurrence h_t = a_t h_{t-1} + b_t."""
        if self.cell == "gru":
            k_h, k_z = self.proj()(x).chunk(2, dim=-1)
            log_a = -F.softplus(k_z)                   # log(1 - z)
            log_b = -F.softplus(-k_z) + log_g(k_h)     # log(z) + log g(k_h)
        else:
            k_h, k_f, k_i = self.proj()(x).chunk(3, dim=-1)
            diff = F.softplus(-k_f) - F.softplus(-k_i)  # log i - log f
            log_a = -F.softplus(diff)                    # log f/(f+i)
            log_b = -F.softplus(-diff) + log_g(k_h)      # log i/(f+i) + log g(k_h)
        return log_a, log_b

    def forward(self, x, prev_hidden=None):
        """x [B, T, dim], prev_hidden [B, dim_inner] (positive, as hidden states are) or None.
        Returns (out [B, T, dim], next hidden [B, dim_inner])."""
        log_a, log_b = self.coefficients(x)
        if prev_hidden is not None:
            log_b = torch.cat((prev_hidden.log()[:, None], log_b), dim=1)
            log_a = F.pad(log_a, (0, 0, 1, 0))
        h = self.scan(log_a, log_b)[:, -x.shape[1]:]
        return self.to_out(h), h[:, -1]

    def step(self, x, prev_hidden=None):
        """The sequential form of one step, x [B, dim]: h = a h_prev + b with a, b from sigmoids."""
        if self.cell == "gru":
            k_h, k_z = self.proj()(x).chunk(2, dim=-1)
            z = torch.sigmoid(k_z)
            h = z * g(k_h) if prev_hidden is None else torch.lerp(prev_hidden, g(k_h), z)
        else:
            k_h, k_f, k_i = self.proj()(x).chunk(3, dim=-1)
            f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
            h = i / (f + i) * g(k_h) + (0 if prev_hidden is None else f / (f + i) * prev_hidden)
        return self.to_out(h), h


# ---------------------------------------------------------------- the language model (minGRU-pytorch's minLM)

class RMSNormRef(nn.Module):
    """torch.nn.RMSNorm(dim) (torch >= 2.4): x * rsqrt(mean(x^2) + eps) * weight, eps = float32 epsilon.
    old=True is minGRULM's RMSNorm: F.normalize(x) * sqrt(dim) * (gamma + 1)."""

    def __init__(self, dim, old=False):
        super().__init__()
        self.old = old
        if old:
            self.scale = dim ** 0.5
            self.gamma = nn.Parameter(torch.zeros(dim))
        else:
            self.eps = torch.finfo(torch.float32).eps
            self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        if self.old:
            return F.normalize(x, dim=-1) * self.scale * (self.gamma + 1)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class CausalConvRef(nn.Module):
    """Depthwise causal Conv1d (left-padded by k-1 zeros), then a pointwise Conv1d."""

    def __init__(self, dim, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.net = nn.Sequential(nn.Conv1d(dim, dim, kernel_size, groups=dim), nn.Conv1d(dim, dim, 1))

    def forward(self, x):
        x = F.pad(x.transpose(1, 2), (self.kernel_size - 1, 0))
        return self.net(x).transpose(1, 2)


class MinLMRef(nn.Module):
    """minLM with minGRU-pytorch's state_dict names; the cells scan in log space (MinRNNRef)."""

    def __init__(self, num_tokens, dim, depth, ff_mult=4, expansion=1.5, conv_kernel_size=3, use_lstm=False,
                 enable_conv=False, old_norm=False):
        super().__init__()
        self.token_emb = nn.Embedding(num_tokens, dim)
        ff_inner = int(dim * ff_mult)
        self.layers = nn.ModuleList([
            nn.ModuleList([
                CausalConvRef(dim, conv_kernel_size) if enable_conv else None,
                RMSNormRef(dim, old_norm),
                MinRNNRef(dim, expansion, "lstm" if use_lstm else "gru"),
                RMSNormRef(dim, old_norm),
                nn.Sequential(nn.Linear(dim, ff_inner), nn.GELU(), nn.Linear(ff_inner, dim)),
            ]) for _ in range(depth)])
        self.norm = RMSNormRef(dim, old_norm)
        self.to_logits = nn.Linear(dim, num_tokens, bias=False)

    def forward(self, tokens):
        x = self.token_emb(tokens)
        for conv, norm1, cell, norm2, ff in self.layers:
            if conv is not None:
                x = conv(x) + x
            x = cell(norm1(x))[0] + x
            x = ff(norm2(x)) + x
        return self.to_logits(self.norm(x))

    def step(self, token, state=None):
        """One token with a cached state (what minGRU-pytorch cannot do for the conv version): token [B]
        ints; state None or the list returned last time, per layer (last k-1 conv inputs [B, k-1, dim] or
        None, hidden [B, dim_inner]). Returns (logits [B, num_tokens], new state)."""
        x = self.token_emb(token)
        new_state = []
        for i, (conv, norm1, cell, norm2, ff) in enumerate(self.layers):
            past, h = state[i] if state is not None else (None, None)
            if conv is not None:
                k = conv.kernel_size
                if past is None:
                    past = x.new_zeros(x.shape[0], k - 1, x.shape[1])
                window = torch.cat((past, x[:, None]), dim=1)               # [B, k, dim]
                u = (window.transpose(1, 2) * conv.net[0].weight[:, 0]).sum(-1) + conv.net[0].bias
                x = conv.net[1](u[:, :, None])[:, :, 0] + x
                past = window[:, 1:]
            y, h = cell.step(norm1(x), h)
            x = y + x
            x = ff(norm2(x)) + x
            new_state.append((past, h))
        return self.to_logits(self.norm(x)), new_state


def golden_case(name, cell, dim, expansion, batch, seq_len, with_prev, seed):
    torch.manual_seed(seed)
    layer = MinRNNRef(dim, expansion, cell)
    x = torch.randn(batch, seq_len, dim)
    prev = torch.rand(batch, layer.dim_inner) + 0.1 if with_prev else None
    with torch.no_grad():
        out, hidden = layer(x, prev)
        # self-check: the log-space scan agrees with the sequential form
        h, outs = prev, []
        for t in range(seq_len):
            o, h = layer.step(x[:, t], h)
            outs.append(o)
        err = (torch.stack(outs, dim=1) - out).abs().max().item()
        assert err < 1e-4, f"{name}: log-space and sequential forms differ by {err}"
    w_out = layer.to_out.weight if expansion != 1.0 else None
    return dict(name=name, cell=cell, dim=dim, expansion=expansion, layer=layer, batch=batch,
                seq_len=seq_len, w_in=layer.proj().weight, w_out=w_out, x=x, prev=prev, out=out, hidden=hidden)


def write_golden(path, cases):
    """The fixture format read by tests/c/golden.h and tests/helpers/golden.mjs, little-endian:
    "MGGOLD01", u32 n_cases; per case: u32 name length, name (UTF-8), u32 cell (0 gru, 1 lstm), u32 dim,
    f64 expansion_factor, u32 dim_inner, u32 batch, u32 seq_len, u32 has_prev, u32 has_out, then float32
    arrays: w_in [n_gates*dim_inner, dim], w_out [dim, dim_inner] if has_out, x [batch, seq_len, dim],
    prev_hidden [batch, dim_inner] if has_prev, output [batch, seq_len, dim], hidden [batch, dim_inner]."""
    import struct
    with open(path, "wb") as f:
        f.write(b"MGGOLD01" + struct.pack("<I", len(cases)))
        for c in cases:
            name = c["name"].encode()
            f.write(struct.pack("<I", len(name)) + name)
            f.write(struct.pack("<IIdIIIII", 0 if c["cell"] == "gru" else 1, c["dim"], c["expansion"],
                                c["layer"].dim_inner, c["batch"], c["seq_len"], c["prev"] is not None,
                                c["w_out"] is not None))
            for key in ("w_in", "w_out", "x", "prev", "out", "hidden"):
                if c[key] is not None:
                    f.write(c[key].detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


CASES = [
    # name, cell, dim, expansion, batch, seq_len, prev_hidden, seed
    ("gru-d8-e1", "gru", 8, 1.0, 2, 7, False, 1),
    ("gru-d8-e1.5-prev", "gru", 8, 1.5, 2, 9, True, 2),
    ("gru-d13-e2-t1", "gru", 13, 2.0, 3, 1, True, 3),
    ("gru-d16-e1.5", "gru", 16, 1.5, 1, 33, False, 4),
    ("gru-d10-e0.5-prev", "gru", 10, 0.5, 2, 5, True, 5),
    ("lstm-d8-e1", "lstm", 8, 1.0, 2, 7, False, 11),
    ("lstm-d8-e1.5-prev", "lstm", 8, 1.5, 2, 9, True, 12),
    ("lstm-d13-e2-t1", "lstm", 13, 2.0, 3, 1, True, 13),
    ("lstm-d16-e1.5", "lstm", 16, 1.5, 1, 33, False, 14),
    ("lstm-d10-e1.1-prev", "lstm", 10, 1.1, 2, 5, True, 15),
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "golden-layers.bin")
    cases = [golden_case(*c) for c in CASES]
    write_golden(out_path, cases)
    print(f"wrote {len(cases)} cases to {os.path.relpath(out_path, root)} (torch {torch.__version__})")


if __name__ == "__main__":
    sys.exit(main())
