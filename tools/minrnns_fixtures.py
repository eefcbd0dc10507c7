#!/usr/bin/python3
"""Writes the BorealisAI/minRNNs fixtures of the tests (deterministic: running it twice gives the same bytes).

    /usr/bin/python3 tools/minrnns_fixtures.py [OUTDIR]       # default OUTDIR: tests/fixtures/minrnns

Per case NAME: their Model (tools/minrnns_ref.py, a faithful copy of their modules) built from a config with the
keys of their configs/*.yaml, every parameter made random (so that a wrong index or a skipped term shows in the
logits; BatchNorm's running statistics too), saved as they save it (a pickled AttrDict with `model`, `optimizer`,
`step` ... in a ckpt.tar, with config.yaml beside it; one case as a plain state_dict) in a temporary directory, and
converted by tools/convert.py --config to NAME.safetensors (F32; NAME.q8.safetensors for one case).
NAME.expected.bin holds their logits in their parallel mode (the reference: their sequential mode with a conv
re-runs the conv on one zero-padded token, so it differs) over a fixed random token sequence, in the format of
tools/lm_fixtures.py: b"MGLMEXP1", u32 T, u32 width (d_out), int32 tokens[T], float32 logits[T, width].
manifest.json lists the cases and their configs.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import minrnns_ref  # noqa: E402

T = 40
BASE = {"d_in": None, "dropout": 0.0, "kernel_size": 0, "enable_ff": False, "ff_mult": 2, "norm_type": "RMSNorm",
        "use_coeff_norm": False, "use_init_hidden_state": True, "forget_bias_init_scale": 3}
CASES = [
    # name, config over BASE, how the checkpoint is saved, extra dtypes
    ("gru-h0-ff-d16-l2", dict(model="minGRU", vocab_size=256, d_out=256, d_model=16, num_layers=2, expand_dim=1.5,
                              enable_ff=True), "ckpt", ("q8",)),
    ("gru-e1-task-d16-l2", dict(model="minGRU", vocab_size=12, d_out=5, d_model=16, num_layers=2, expand_dim=1,
                                use_init_hidden_state=False), "ckpt", ()),
    ("lstm-h0-task-d16-l2", dict(model="minLSTM", vocab_size=11, d_out=10, d_model=16, num_layers=2, expand_dim=1),
     "ckpt", ()),
    ("lstm-coeffnorm-conv3-ff-d24-l2", dict(model="minLSTM", vocab_size=32, d_out=32, d_model=24, num_layers=2,
                                            expand_dim=2, kernel_size=3, enable_ff=True, use_coeff_norm=True),
     "state_dict", ()),
    ("gru-batchnorm-conv4-d16-l3", dict(model="minGRU", vocab_size=20, d_out=20, d_model=16, num_layers=3, expand_dim=1.5,
                                        kernel_size=4, enable_ff=True, norm_type="BatchNorm"), "ckpt", ()),
]


def build(seed, config):
    """Their model from DEFAULT_CONFIG + BASE + config, eval mode, every parameter (and buffer) random."""
    torch.manual_seed(seed)
    cfg = dict(BASE, **config)
    model = minrnns_ref.build_model(cfg)
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma") or name.endswith("mult_bias"):
                p.add_(0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") or name.endswith("init_hidden_state"):
                p.add_(0.1 * torch.randn(p.shape, generator=g))
            elif name == "token_emb.weight":
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:  # BatchNorm weights
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.3 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return model.eval(), cfg


class AttrDict(dict):
    """Pickles as attrdict 2.0.1's AttrDict does (its class path, the items, then the (mapping, sequence_type,
    allow_invalid_attributes) state), so that the checkpoint is the one their main.py writes."""

    def __reduce_ex__(self, protocol):
        return (AttrDict, (), (dict(self), tuple, False), None, iter(self.items()))


AttrDict.__module__, AttrDict.__qualname__ = "attrdict.dictionary", "AttrDict"


def save_checkpoint(model, path):
    """Their main.py's checkpoint: ckpt = AttrDict(); ckpt.model = model.state_dict(); ... torch.save(ckpt)."""
    pkg, module = types.ModuleType("attrdict"), types.ModuleType("attrdict.dictionary")
    pkg.dictionary, pkg.AttrDict, module.AttrDict = module, AttrDict, AttrDict
    saved = {k: sys.modules.get(k) for k in ("attrdict", "attrdict.dictionary")}
    sys.modules.update({"attrdict": pkg, "attrdict.dictionary": module})
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
        ckpt = AttrDict(model=model.state_dict(), optimizer=opt.state_dict(), logfilename="train.log", step=1000,
                        best_metric=0.5)
        torch.save(ckpt, path)
    finally:
        for k, v in saved.items():
            if v is None:
                del sys.modules[k]
            else:
                sys.modules[k] = v


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "minrnns")
    os.makedirs(out, exist_ok=True)
    manifest = []
    convert = os.path.join(os.path.dirname(os.path.abspath(__file__)), "convert.py")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, config, form, dtypes) in enumerate(CASES):
            model, cfg = build(100 + i, config)
            tokens = torch.randint(0, cfg["vocab_size"], (1, T), generator=torch.Generator().manual_seed(7 + i))
            with torch.no_grad():
                logits = model(tokens)[0]
            ckpt, yml = os.path.join(tmp, f"{name}.tar"), os.path.join(tmp, f"{name}.yaml")
            if form == "ckpt":
                save_checkpoint(model, ckpt)
            else:
                torch.save(model.state_dict(), ckpt)
            with open(yml, "w") as f:
                yaml.dump(dict(cfg, task="fixture", expid=name), f)
            for dtype in ("f32",) + dtypes:
                suffix = "" if dtype == "f32" else f".{dtype}"
                subprocess.run([sys.executable, convert, ckpt, os.path.join(out, f"{name}{suffix}.safetensors"),
                                "--config", yml, "--dtype", dtype, "--tokenizer", "bytes" if cfg["vocab_size"] == 256 else "none"],
                               check=True, capture_output=True)
            with open(os.path.join(out, f"{name}.expected.bin"), "wb") as f:
                f.write(b"MGLMEXP1" + struct.pack("<II", T, logits.shape[1]))
                f.write(np.asarray(tokens[0], dtype="<i4").tobytes())
                f.write(logits.numpy().astype("<f4").tobytes())
            shutil.copy(yml, os.path.join(out, f"{name}.config.yaml"))
            if name == CASES[0][0]:  # one checkpoint as they write it, for the converter's tests
                shutil.copy(ckpt, os.path.join(out, f"{name}.ckpt.tar"))
            manifest.append({"name": name, "config": config, "checkpoint": form, "dtypes": ["f32", *dtypes], "T": T})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} cases to {out}")


if __name__ == "__main__":
    main()
