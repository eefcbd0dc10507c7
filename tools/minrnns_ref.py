# Copyright (c) 2025-present, Royal Bank of Canada.
# Copyright (c) 2024, Phil Wang
# Copyright (c) 2023, GlassRoom
# All rights reserved.
#
# The code below is copied from BorealisAI/minRNNs ("Were RNNs All We Needed?", Feng et al.).
# Their file headers say: "This source code is licensed under the license found in the LICENSE file in
# the root directory of this source tree." That LICENSE file could not be read here; their repository is
# reported (by the fork Yani-hmc/minRNNs, README "License") to be released under the
#   Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International licence (CC BY-NC-SA 4.0),
#   https://creativecommons.org/licenses/by-nc-sa/4.0/
# This copy is an adaptation of their work (changes are listed in the docstring below) and, under that
# licence, is itself under CC BY-NC-SA 4.0 -- NOT under the MIT licence of the rest of this repository.
#
# Parts of their code are, by their own headers, based on MIT-licensed code:
#   models/model.py, models/modules.py, models/helpers.py, utils/misc.py:
#     https://github.com/lucidrains/minGRU-pytorch, Copyright (c) 2024 Phil Wang, MIT License
#   models/associative_scan.py:
#     https://github.com/glassroom/heinsen_sequence, Copyright (c) 2023 GlassRoom, MIT License
# MIT License notice (as carried in their utils/misc.py):
#
# Permission is hereby granted, free of charge, to any person obtaining a copy
# of this software and associated documentation files (the "Software"), to deal
# in the Software without restriction, including without limitation the rights
# to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
# copies of the Software, and to permit persons to whom the Software is
# furnished to do so, subject to the following conditions:
#
# The above copyright notice and this permission notice shall be included in all
# copies or substantial portions of the Software.
#
# THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
# IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
# FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
# AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
# LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
# OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
# SOFTWARE.
"""Faithful single-file copy of the model code of BorealisAI/minRNNs, used to make test fixtures.

Source: github.com/BorealisAI/minRNNs at commit ff52e9de9b470ad750fcf09d3c140a6ae29aa1ce:
  models/minRNNs.py           -> minGRU, minLSTM, sequence_modules        (verbatim)
  models/model.py             -> norms, Model                              (verbatim)
  models/modules.py           -> RMSNorm, BatchNorm, GEGLU, FeedForward, CausalDepthWiseConv1d (verbatim)
  models/associative_scan.py  -> associative_scan_log                      (verbatim)
  models/helpers.py           -> g, log_g                                  (verbatim)
  utils/misc.py               -> exists                                    (verbatim)
  main.py                     -> get_model, and the config merging of main()  (see build_model)
  configs/default.yaml, configs/<task>.yaml -> DEFAULT_CONFIG, TASK_CONFIGS
(models/modules.py, associative_scan.py, helpers.py and the configs were read from the search index's
stored copies of those files / from the fork Yani-hmc/minRNNs@f0458f73, whose minRNNs.py, models.py and
main.py are identical to BorealisAI's apart from being flattened into one directory.)

Changes from their code, all of them:
  1. The six model files are merged into this one module; their cross-file imports
     (`from models.associative_scan import ...`, `from models.helpers import ...`, `from utils.misc import ...`,
     `from models.minRNNs import ...`, `from models.modules import ...`) are removed.  No code inside a
     function or class was changed; state_dict names are theirs.
  2. `get_model(cfg)` is theirs except that `.cuda()` is dropped (no GPU here) and it reads a plain dict
     (`cfg[key]`) instead of an AttrDict (`cfg.key`), since the `attrdict` package is not installed.
  3. `build_model(config)` (new) does what main.py's main() does to the config before get_model:
     default.yaml values, overridden by the given dict, then the strings 'None'/'False'/'True' turned into
     None/False/True.
  4. New helpers that are not theirs: AttrDict (a minimal stand-in), load_checkpoint (reads their ckpt.tar /
     best_ckpt.tar, which pickle an `attrdict.AttrDict`), DEFAULT_CONFIG / TASK_CONFIGS (their yaml files as dicts).
  No einops is used by their code; torch 1.13 runs it unchanged.
"""
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import Linear, Module, ModuleList


# ---------------------------------------------------------------- utils/misc.py

def exists(v):
    return v is not None


# ---------------------------------------------------------------- models/helpers.py
# https://github.com/lucidrains/minGRU-pytorch/blob/main/minGRU_pytorch/minGRU.py

def g(x):
    return torch.where(x >= 0, x + 0.5, x.sigmoid())


def log_g(x):
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


# ---------------------------------------------------------------- models/associative_scan.py
# Scan implementation is based on https://github.com/glassroom/heinsen_sequence (MIT)

def associative_scan_log(log_coeffs, log_values, return_log=False):
    a_star = log_coeffs.cumsum(dim=1)
    log_h0_plus_b_star = (log_values - a_star).logcumsumexp(dim=1)
    log_h = a_star + log_h0_plus_b_star

    if return_log:
        return log_h
    else:
        return log_h.exp()


# ---------------------------------------------------------------- models/minRNNs.py

class minGRU(Module):
    def __init__(self,
                 dim,
                 expansion_factor,
                 use_init_hidden_state,
                 **kwargs):
        super().__init__()
        dim_inner = int(dim * expansion_factor)
        self.to_hidden_and_gate = Linear(dim, dim_inner * 2)
        self.to_out = Linear(dim_inner, dim)

        self.init_hidden_state = nn.Parameter(
            torch.randn(dim_inner), requires_grad=True) if use_init_hidden_state else None

    def forward(self, x, prev_state=None):
        seq_len = x.shape[1]
        hidden, gate = self.to_hidden_and_gate(x).chunk(2, dim=-1)

        if seq_len == 1:
            # handle sequential
            tilde_h = g(hidden)
            gate = gate.sigmoid()

            if exists(prev_state):
                (prev_hidden, _) = prev_state
                out = (1-gate) * prev_hidden + gate * tilde_h
            elif exists(self.init_hidden_state):
                prev_hidden = g(self.init_hidden_state)
                out = (1-gate) * prev_hidden + gate * tilde_h
            else:
                out = gate * tilde_h

            (next_hidden, next_log_hidden) = (out[:, -1:], out[:, -1:].log())
        else:
            log_coeffs = -F.softplus(gate)

            log_z = -F.softplus(-gate)
            log_tilde_h = log_g(hidden)
            log_values = log_z + log_tilde_h

            if exists(prev_state) or exists(self.init_hidden_state):
                if exists(prev_state):
                    (_, prev_log_hidden) = prev_state
                else:
                    prev_log_hidden = log_g(self.init_hidden_state)
                prev_log_hidden = prev_log_hidden.repeat((log_values.shape[0], 1, 1))
                log_values = torch.cat((prev_log_hidden, log_values), dim=1)
                log_coeffs = F.pad(log_coeffs, (0, 0, 1, 0))

            log_out = associative_scan_log(
                log_coeffs, log_values, return_log=True)

            out = torch.exp(log_out[:, -seq_len:])

            (next_hidden, next_log_hidden) = (out[:, -1:], log_out[:, -1:])

        out = self.to_out(out)
        return out, (next_hidden, next_log_hidden)


class minLSTM(Module):
    def __init__(self,
                 dim,
                 expansion_factor,
                 forget_bias_init_scale,
                 use_coeff_norm,
                 use_init_hidden_state,
                 **kwargs
                 ):
        super().__init__()

        dim_inner = int(dim * expansion_factor)
        self.to_hidden_and_gate = Linear(dim, dim_inner * 3)
        self.use_coeff_norm = use_coeff_norm

        # Rescale the forget gate's bias init value
        if exists(forget_bias_init_scale):
            to_add = torch.zeros(self.to_hidden_and_gate.bias.shape)
            to_add[dim_inner: 2*dim_inner] = torch.ones(dim_inner)*forget_bias_init_scale
            self.to_hidden_and_gate.bias = nn.Parameter(
                to_add + self.to_hidden_and_gate.bias)

        self.to_out = Linear(dim_inner, dim)

        self.init_hidden_state = nn.Parameter(
            torch.randn(dim_inner), requires_grad=True) if use_init_hidden_state else None

    def forward(self, x, prev_state=None):
        seq_len = x.shape[1]
        hidden, forget_gate, input_gate = self.to_hidden_and_gate(
            x).chunk(3, dim=-1)

        if seq_len == 1:
            # handle sequential
            tilde_h = g(hidden)
            input_gate = input_gate.sigmoid()
            forget_gate = forget_gate.sigmoid()

            if self.use_coeff_norm:
                norm = forget_gate + input_gate
                forget_gate, input_gate = forget_gate/norm, input_gate/norm

            if exists(prev_state):
                (prev_hidden, _) = prev_state
                out = forget_gate * prev_hidden + input_gate * tilde_h
            elif exists(self.init_hidden_state):
                prev_hidden = g(self.init_hidden_state)
                out = forget_gate * prev_hidden + input_gate * tilde_h
            else:
                out = input_gate * tilde_h

            (next_hidden, next_log_hidden) = (out[:, -1:], out[:, -1:].log())
        else:
            # parallel
            if self.use_coeff_norm:
                diff = F.softplus(-forget_gate) - F.softplus(-input_gate)
                log_coeffs = -F.softplus(diff)
                log_val_coeffs = -F.softplus(-diff)
            else:
                log_coeffs = -F.softplus(-forget_gate)
                log_val_coeffs = -F.softplus(-input_gate)

            log_tilde_h = log_g(hidden)
            log_values = log_val_coeffs + log_tilde_h

            if exists(prev_state) or exists(self.init_hidden_state):
                if exists(prev_state):
                    (_, prev_log_hidden) = prev_state
                else:
                    prev_log_hidden = log_g(self.init_hidden_state)
                prev_log_hidden = prev_log_hidden.repeat((log_values.shape[0], 1, 1))
                log_values = torch.cat((prev_log_hidden, log_values), dim=1)
                log_coeffs = F.pad(log_coeffs, (0, 0, 1, 0))

            log_out = associative_scan_log(
                log_coeffs, log_values, return_log=True)

            out = torch.exp(log_out[:, -seq_len:])

            (next_hidden, next_log_hidden) = (out[:, -1:], log_out[:, -1:])

        out = self.to_out(out)
        return out, (next_hidden, next_log_hidden)


sequence_modules = {
    'minGRU': minGRU,
    'minLSTM': minLSTM,
}


# ---------------------------------------------------------------- models/modules.py
# Code leverages module implementations from https://github.com/lucidrains/minGRU-pytorch (MIT)

class RMSNorm(Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return F.normalize(x, dim=-1) * self.scale * (self.gamma + 1)


class BatchNorm(Module):
    def __init__(self, dim, momentum=0.9):
        super().__init__()
        self.norm = nn.BatchNorm1d(dim, momentum=momentum)

    def forward(self, x):
        if len(x.shape) == 3:
            B, L, D = x.shape
            return self.norm(x.permute(0, 2, 1)).permute(0, 2, 1)
        else:
            raise ValueError


class GEGLU(Module):
    def __init__(
        self,
        dim,
        mult_bias=True
    ):
        super().__init__()
        self.mult_bias = nn.Parameter(torch.ones(dim)) if mult_bias else 1.

    def forward(self, x):
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x * self.mult_bias


def FeedForward(dim, mult=4, dropout=0.1):
    dim_inner = int(dim * mult)
    return nn.Sequential(
        nn.Linear(dim, dim_inner * 2),
        GEGLU(dim_inner),
        nn.Linear(dim_inner, dim),
        nn.Dropout(dropout)
    )


class CausalDepthWiseConv1d(Module):
    def __init__(self, dim, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.net = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size=kernel_size, groups=dim),
            nn.Conv1d(dim, dim, kernel_size=1)
        )

    def forward(self, x):
        x = x.transpose(1, 2)  # b n d -> b d n
        x = F.pad(x, (self.kernel_size - 1, 0), value=0.)
        x = self.net(x)
        return x.transpose(1, 2)  # b d n -> b n d


# ---------------------------------------------------------------- models/model.py
# Model implementation is based on https://github.com/lucidrains/minGRU-pytorch (MIT)

norms = {
    'BatchNorm': BatchNorm,
    'RMSNorm': RMSNorm
}


class Model(Module):
    def __init__(
        self,
        *,
        module,
        num_tokens,
        d_in,
        d_out,
        dim,
        depth,
        dropout,
        ff_mult,
        conv_kernel_size,
        enable_conv,
        enable_ff,
        norm_type,
        rnn_config
    ):
        super().__init__()
        if num_tokens is not None:
            self.token_emb = nn.Embedding(num_tokens, dim)
        else:
            self.token_emb = None
            self.layer_in = nn.Linear(d_in, dim)

        self.layers = ModuleList([])

        Norm = norms[norm_type]
        RNN_Module = sequence_modules[module]
        for _ in range(depth):
            self.layers.append(ModuleList([
                CausalDepthWiseConv1d(
                    dim, conv_kernel_size) if enable_conv else None,
                Norm(dim),
                RNN_Module(**rnn_config),
                Norm(dim),
                FeedForward(dim, mult=ff_mult,
                            dropout=dropout) if enable_ff else None,
            ]))

        self.norm = Norm(dim)
        self.to_out = nn.Linear(dim, d_out, bias=False)

    def forward(
        self,
        x,
        return_states=False,
        prev_states=None
    ):
        if exists(self.token_emb):
            x = self.token_emb(x)
        else:
            x = self.layer_in(x)

        next_prev_states = []

        if not exists(prev_states):
            prev_states = [None for _ in range(len(self.layers))]

        for (conv, norm, minlstm, ff_norm, ff), prev_state in zip(self.layers, prev_states):
            # conv
            if exists(conv):
                x = conv(x) + x

            # minRNN
            min_rnn_out, next_prev_state = minlstm(
                norm(x),
                prev_state=prev_state
            )
            x = min_rnn_out + x
            next_prev_states.append(next_prev_state)

            # feedforward
            if exists(ff):
                x = ff(ff_norm(x)) + x

        logits = self.to_out(self.norm(x))

        if not return_states:
            return logits

        return logits, next_prev_states


# ---------------------------------------------------------------- main.py: get_model
# Theirs, except: cfg['key'] for cfg.key, and no .cuda().

def get_model(cfg):
    rnn_config = {
        'dim': cfg['d_model'],
        'expansion_factor': cfg['expand_dim'],
        'forget_bias_init_scale': cfg['forget_bias_init_scale'],
        'use_coeff_norm': cfg['use_coeff_norm'],
        'use_init_hidden_state': cfg['use_init_hidden_state'],
    }
    model = Model(
        module=cfg['model'],
        num_tokens=cfg['vocab_size'],
        d_in=cfg['d_in'],
        d_out=cfg['d_out'],
        dim=cfg['d_model'],
        depth=cfg['num_layers'],
        dropout=cfg['dropout'],
        ff_mult=cfg['ff_mult'],
        conv_kernel_size=cfg['kernel_size'],
        enable_conv=(cfg['kernel_size'] is not None) and (cfg['kernel_size'] != 0),
        enable_ff=cfg['enable_ff'],
        norm_type=cfg['norm_type'],
        rnn_config=rnn_config,
    )
    return model


# ---------------------------------------------------------------- their configs (not code; values copied)

# configs/default.yaml
DEFAULT_CONFIG = {
    'ff_mult': 2,
    'wd': 0.05,
    'forget_bias_init_scale': 3,
    'train_seed': 42,
    'model': 'minLSTM',
    'check_exists': False,
    'enable_ff': True,
    'use_coeff_norm': False,
    'use_init_hidden_state': True,
    'norm_type': 'RMSNorm',
}

_TASK_COMMON = {
    'train_seed': 42, 'train_batch_size': 128, 'accum_iter': 1, 'num_steps': 500000, 'lr': 0.0003,
    'clip': 'None', 'print_freq': 100, 'save_freq': 1000, 'eval_freq': 1000,
    'val_seed': 0, 'test_seed': 1, 'eval_num_batches': 200, 'eval_batch_size': 256,
    'd_model': 256, 'expand_dim': 1, 'dropout': 0.0, 'num_layers': 2, 'kernel_size': 0, 'enable_ff': False,
    'd_in': 'None',
}

# configs/<task>.yaml (majority_count.yaml was not available to read)
TASK_CONFIGS = {
    'selective_copy': {
        'train_seed': 42, 'train_batch_size': 64, 'accum_iter': 2, 'num_steps': 400000, 'lr': 0.0003,
        'clip': 1.0, 'print_freq': 100, 'save_freq': 1000, 'eval_freq': 1000,
        'val_seed': 0, 'test_seed': 1, 'eval_num_batches': 200, 'eval_batch_size': 64,
        'd_model': 64, 'expand_dim': 6, 'dropout': 0.1, 'num_layers': 3, 'kernel_size': 0, 'enable_ff': False,
        'sequence_length': 4096, 'vocab_size': 16, 'num_tokens_memorize': 16, 'd_in': 'None', 'd_out': 16,
    },
    'parity_check': dict(_TASK_COMMON, vocab_size=3, d_out=2),
    'even_pairs': dict(_TASK_COMMON, num_steps=100000, vocab_size=3, d_out=2),
    'cycle_nav': dict(_TASK_COMMON, eval_freq=5000, vocab_size=4, d_out=5),
    'bucket_sort': dict(_TASK_COMMON, vocab_size=11, d_out=10),
    'majority': dict(_TASK_COMMON, vocab_size=64, d_out=63),
    'missing_duplicate': dict(_TASK_COMMON, vocab_size=11, d_out=11),
}


def build_model(config: dict):
    """Their Model from a dict with the keys of their configs, as main.py builds it: configs/default.yaml
    values, overridden by `config` (main.py: task yaml, then non-None command-line args), then every value
    'None'/'False'/'True' made None/False/True, then get_model.  Keys get_model needs with no default in
    default.yaml (so `config` must give them): vocab_size, d_in, d_out, d_model, num_layers, expand_dim,
    dropout, kernel_size."""
    cfg = dict(DEFAULT_CONFIG)
    for key, val in dict(config).items():
        cfg[key] = val
    for key in list(cfg.keys()):
        if cfg[key] == 'None':
            cfg[key] = None
        elif cfg[key] == 'False':
            cfg[key] = False
        elif cfg[key] == 'True':
            cfg[key] = True
    return get_model(cfg)


# ---------------------------------------------------------------- checkpoint loading (not theirs)

class AttrDict(dict):
    """Minimal stand-in for attrdict.AttrDict (pip attrdict 2.0.1), enough to unpickle their checkpoints.
    Their main.py saves `ckpt = AttrDict(); ckpt.model = model.state_dict(); ckpt.optimizer = ...;
    ckpt.logfilename = ...; ckpt.step = step + 1; ckpt.best_metric = ...` with torch.save."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key)

    def __setattr__(self, key, val):
        if key.startswith('_'):
            object.__setattr__(self, key, val)
        else:
            self[key] = val

    def __setstate__(self, state):
        # attrdict 2.0.1: (mapping, sequence_type, allow_invalid_attributes); a plain dict otherwise
        if isinstance(state, tuple):
            mapping = state[0]
        else:
            mapping = state
        if mapping is not self and isinstance(mapping, dict):
            dict.update(self, mapping)


def load_checkpoint(path, map_location='cpu'):
    """torch.load of their ckpt.tar / best_ckpt.tar without the attrdict package: registers this module's
    AttrDict as attrdict.AttrDict and attrdict.dictionary.AttrDict if attrdict is not importable."""
    try:
        import attrdict  # noqa: F401
    except ImportError:
        pkg = types.ModuleType('attrdict')
        sub = types.ModuleType('attrdict.dictionary')
        pkg.AttrDict = AttrDict
        sub.AttrDict = AttrDict
        pkg.dictionary = sub
        sys.modules.setdefault('attrdict', pkg)
        sys.modules.setdefault('attrdict.dictionary', sub)
    return torch.load(path, map_location=map_location)
