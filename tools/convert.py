#!/usr/bin/python3
"""Converts a minGRU-pytorch language model checkpoint to a mingru .safetensors file.

    /usr/bin/python3 tools/convert.py CHECKPOINT.pt OUT.safetensors [--dtype f32|f16|q8]
        [--name NAME] [--description TEXT] [--license TEXT] [--training-data TEXT] [--tokenizer bytes|none]

CHECKPOINT.pt is a `minLM` (or older `minGRULM`) state_dict saved with torch.save (a dict wrapping it under
'state_dict' or 'model' works too). The whole config is inferred from tensor names and shapes; the file
format is docs/format.md. Needs only torch, numpy and the standard library.
"""
import argparse
import json
import math
import struct
import sys

import numpy as np
import torch

ALIGN = 64
Q8_SUFFIXES = (".2.to_hidden_and_gate.weight", ".2.to_hidden_and_f_i_gate.weight", ".2.to_out.weight",
               ".4.0.weight", ".4.2.weight")


class ConvertError(Exception):
    pass


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise ConvertError(f"{path}: not a state_dict of tensors")
    out = {}
    for name, t in obj.items():
        for prefix in ("module.", "_orig_mod."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        out[name] = t.detach().to(torch.float32).contiguous()
    return out


def decimal_for(width, dim, must_differ_from_one=False):
    """A decimal string v with floor(dim * v) == width in float64 (and v != 1 when asked)."""
    candidates = [width / dim, (width + 0.5) / dim]
    for v in candidates:
        text = repr(float(v))
        if math.floor(dim * float(text)) == width and not (must_differ_from_one and float(text) == 1.0):
            return text
    raise ConvertError(f"no factor gives width {width} from dim {dim}")


def shape_of(sd, name):
    if name not in sd:
        raise ConvertError(f"tensor {name} is missing")
    return tuple(sd[name].shape)


def expect(sd, name, shape):
    got = shape_of(sd, name)
    if got != tuple(shape):
        raise ConvertError(f"tensor {name} has shape {list(got)}, expected {list(shape)}")


def infer_config(sd):
    """The config of a minLM / minGRULM state_dict, checking every tensor; also renames gamma norms."""
    num_tokens, dim = shape_of(sd, "token_emb.weight")
    depth = 0
    while any(k.startswith(f"layers.{depth}.") for k in sd):
        depth += 1
    if depth == 0:
        raise ConvertError("no layers.0.* tensors: not a minLM checkpoint")
    if "layers.0.2.to_hidden_and_gate.weight" in sd:
        cell, proj, gates = "gru", "to_hidden_and_gate", 2
    elif "layers.0.2.to_hidden_and_f_i_gate.weight" in sd:
        cell, proj, gates = "lstm", "to_hidden_and_f_i_gate", 3
    else:
        raise ConvertError("layers.0.2 has neither to_hidden_and_gate nor to_hidden_and_f_i_gate")
    rows = shape_of(sd, f"layers.0.2.{proj}.weight")[0]
    if rows % gates:
        raise ConvertError(f"layers.0.2.{proj}.weight has {rows} rows, not a multiple of {gates}")
    dim_inner = rows // gates
    has_out = "layers.0.2.to_out.weight" in sd
    ff_inner = shape_of(sd, "layers.0.4.0.weight")[0]
    conv = "layers.0.0.net.0.weight" in sd
    kernel = shape_of(sd, "layers.0.0.net.0.weight")[2] if conv else 0
    old_norm = "norm.gamma" in sd

    # old minGRULM RMSNorm: x / ||x|| * sqrt(dim) * (gamma + 1)  ->  weight = gamma + 1
    if old_norm:
        for name in [k for k in sd if k.endswith(".gamma") or k == "norm.gamma"]:
            sd[name[: -len("gamma")] + "weight"] = sd.pop(name) + 1.0

    expected = {"token_emb.weight": (num_tokens, dim), "norm.weight": (dim,), "to_logits.weight": (num_tokens, dim)}
    for i in range(depth):
        p = f"layers.{i}."
        if conv:
            expected.update({p + "0.net.0.weight": (dim, 1, kernel), p + "0.net.0.bias": (dim,),
                             p + "0.net.1.weight": (dim, dim, 1), p + "0.net.1.bias": (dim,)})
        expected.update({p + "1.weight": (dim,), p + f"2.{proj}.weight": (gates * dim_inner, dim),
                         p + "3.weight": (dim,), p + "4.0.weight": (ff_inner, dim), p + "4.0.bias": (ff_inner,),
                         p + "4.2.weight": (dim, ff_inner), p + "4.2.bias": (dim,)})
        if has_out:
            expected[p + "2.to_out.weight"] = (dim, dim_inner)
    for name, shape in expected.items():
        expect(sd, name, shape)
    extra = sorted(set(sd) - set(expected))
    if extra:
        raise ConvertError(f"tensor {extra[0]} is not part of a minLM of this config")
    if not has_out and dim_inner != dim:
        raise ConvertError(f"the cell has no to_out but an inner width {dim_inner} != dim {dim}")

    return {
        "cell": cell, "num_tokens": num_tokens, "dim": dim, "depth": depth,
        "expansion_factor": decimal_for(dim_inner, dim, must_differ_from_one=has_out) if has_out else "1.0",
        "ff_mult": decimal_for(ff_inner, dim), "conv_kernel_size": kernel, "old_norm": old_norm,
        "dim_inner": dim_inner, "ff_inner": ff_inner,
    }


def quantize_rows(w):
    """Symmetric per-row int8: w ~ q * scale[:, None]."""
    w = w.numpy().astype(np.float32)
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def tensors_for(sd, dtype):
    """(name, safetensors dtype, shape, bytes) in the state_dict's order."""
    out = []
    for name, t in sd.items():
        if dtype == "q8" and t.dim() == 2 and (name in ("token_emb.weight", "to_logits.weight") or name.endswith(Q8_SUFFIXES)):
            q, scale = quantize_rows(t)
            out.append((name, "I8", list(t.shape), q.tobytes()))
            out.append((name + ".scale", "F32", [t.shape[0]], scale.astype("<f4").tobytes()))
        elif dtype == "f16":
            out.append((name, "F16", list(t.shape), t.numpy().astype("<f2").tobytes()))
        else:
            out.append((name, "F32", list(t.shape), t.numpy().astype("<f4").tobytes()))
    return out


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, dt, shape, data in tensors:
        pad = -offset % ALIGN
        blobs.append(b"\0" * pad)
        offset += pad
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % ALIGN)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for b in blobs:
            f.write(b)
    return 8 + len(text) + offset


def convert(src, dst, dtype="f32", name=None, description=None, license=None, training_data=None, tokenizer=None):
    sd = load_state_dict(src)
    cfg = infer_config(sd)
    if tokenizer is None:
        tokenizer = "bytes" if cfg["num_tokens"] == 256 else "none"
    if tokenizer == "bytes" and cfg["num_tokens"] != 256:
        raise ConvertError(f"tokenizer bytes needs num_tokens 256, the checkpoint has {cfg['num_tokens']}")
    meta = {"format": "mingru", "version": "1", "cell": cfg["cell"], "num_tokens": str(cfg["num_tokens"]),
            "dim": str(cfg["dim"]), "depth": str(cfg["depth"]), "expansion_factor": cfg["expansion_factor"],
            "ff_mult": cfg["ff_mult"], "conv_kernel_size": str(cfg["conv_kernel_size"]), "tokenizer": tokenizer}
    for key, value in (("name", name), ("description", description), ("license", license),
                       ("training_data", training_data)):
        if value is not None:
            meta[key] = value
    size = write_safetensors(dst, tensors_for(sd, dtype), meta)
    params = sum(t.numel() for t in sd.values())
    return cfg, params, size


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a minGRU-pytorch minLM checkpoint to mingru .safetensors")
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=("f32", "f16", "q8"), default="f32")
    ap.add_argument("--name")
    ap.add_argument("--description")
    ap.add_argument("--license")
    ap.add_argument("--training-data")
    ap.add_argument("--tokenizer", choices=("bytes", "none"))
    a = ap.parse_args(argv)
    try:
        cfg, params, size = convert(a.checkpoint, a.out, a.dtype, a.name, a.description, a.license,
                                    a.training_data, a.tokenizer)
    except (ConvertError, OSError, RuntimeError) as e:
        print(f"convert.py: {e}", file=sys.stderr)
        return 1
    print(f"{a.out}: min{cfg['cell'].upper()} LM, {cfg['depth']} layers, dim {cfg['dim']}, inner {cfg['dim_inner']}, "
          f"ff {cfg['ff_inner']}, conv {cfg['conv_kernel_size'] or 'none'}{', from minGRULM (gamma norms)' if cfg['old_norm'] else ''}; "
          f"{params:,} parameters; {a.dtype}; {size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
