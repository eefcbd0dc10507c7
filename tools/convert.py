#!/usr/bin/python3
"""Converts a minGRU-pytorch language model checkpoint to a mingru model file (docs/format.md).

    /usr/bin/python3 tools/convert.py CHECKPOINT.pt OUT.safetensors [--dtype f32|f16|q8] [--name NAME]
        [--description TEXT] [--license TEXT] [--training-data TEXT] [--tokenizer bytes|none]

CHECKPOINT.pt is the state_dict of a `minLM` (or of an older `minGRULM`) saved with torch.save; a dict that
wraps it under 'state_dict' or 'model' works too, and a leading 'module.' or '_orig_mod.' (DataParallel,
torch.compile) is stripped from the names. The whole config (cell, widths, depth, convolution) is inferred
from the tensor names and shapes, and every tensor is checked: a missing, unknown or wrongly shaped tensor
stops the conversion with a message naming it (exit status 1).

--dtype f32 (default) stores every tensor as F32; f16 stores every tensor as F16; q8 stores the large
matrices as per-row symmetric int8 plus an F32 `NAME.scale` and the rest as F32. --tokenizer defaults to
`bytes` when the vocabulary has 256 tokens, else `none`.

A whole pickled module (torch.save(model, path)) is refused with a message asking for its state_dict.

Needs only torch, numpy and the standard library (it writes safetensors itself); a Python without them gets a
message naming what is missing (exit status 1).
"""
import argparse
import json
import math
import platform
import struct
import sys

MISSING = []  # (name, Debian package, pip package) of each module this Python lacks; main() says so
try:
    import torch
except ImportError:
    MISSING.append(("PyTorch", "python3-torch", "torch"))
try:
    import numpy as np
except ImportError:
    MISSING.append(("numpy", "python3-numpy", "numpy"))

ALIGN = 64  # the data section starts on a 64-byte boundary
PREFIXES = ("module.", "_orig_mod.")
CELLS = {"to_hidden_and_gate": ("gru", 2), "to_hidden_and_f_i_gate": ("lstm", 3)}
# the matrices that --dtype q8 quantizes (docs/format.md); "layers.i" + suffix, plus the two below
Q8_LAYER_SUFFIXES = (".2.to_hidden_and_gate.weight", ".2.to_hidden_and_f_i_gate.weight", ".2.to_out.weight",
                     ".4.0.weight", ".4.2.weight")
Q8_TOP = ("token_emb.weight", "to_logits.weight")


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------- reading the checkpoint

def load_state_dict(path):
    """The checkpoint's tensors as float32, in their order, with wrapper prefixes stripped."""
    save_sd = f"save it with torch.save(model.state_dict(), {path!r}) and convert that"
    try:
        obj = torch.load(path, map_location="cpu")
    except (AttributeError, ImportError) as e:  # unpickling needs a class this Python cannot import
        raise ConvertError(f"{path} holds a pickled object whose class cannot be imported here ({e}), such as a "
                           f"whole module saved with torch.save(model, ...), not a state_dict: {save_sd}") from e
    except Exception as e:  # pickle, zip and I/O errors all mean "cannot read this file"
        if "Weights only load failed" in str(e):  # torch >= 2.6 loads tensors only, by default: not a state_dict
            raise ConvertError(f"{path} holds a pickled object, not only tensors (a whole module saved with "
                               f"torch.save(model, ...)?), not a state_dict: {save_sd}") from e
        raise ConvertError(f"cannot read {path}: {e}") from e
    if isinstance(obj, torch.nn.Module):
        raise ConvertError(f"{path} holds a whole {type(obj).__name__} module, not a state_dict: {save_sd}")
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        raise ConvertError(f"{path} is not a state_dict (expected a dict of tensors)")
    sd = {}
    for name, t in obj.items():
        if not isinstance(name, str):
            raise ConvertError(f"{path} is not a state_dict (key {name!r} is not a tensor name)")
        stripped = True
        while stripped:
            stripped = False
            for prefix in PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        if not torch.is_tensor(t):
            raise ConvertError(f"entry {name!r} of {path} is not a tensor")
        if not t.is_floating_point():
            raise ConvertError(f"tensor {name} has dtype {t.dtype}, expected a floating-point tensor")
        if name in sd:
            raise ConvertError(f"tensor {name} appears twice")
        sd[name] = t.detach().to(torch.float32).contiguous()
    return sd


def convert_old_norms(sd):
    """minGRULM's RMSNorm stores `gamma` with x / ||x|| * sqrt(dim) * (gamma + 1); write weight = gamma + 1
    under the `.weight` name (in place, keeping the order). Returns whether there were any."""
    if not any(name.endswith(".gamma") for name in sd):
        return False
    out = {}
    for name, t in sd.items():
        if name.endswith(".gamma"):
            name = name[:-len("gamma")] + "weight"
            if name in sd:
                raise ConvertError(f"tensor {name} appears both as weight and as gamma")
            t = t + 1.0
        out[name] = t
    sd.clear()
    sd.update(out)
    return True


# ---------------------------------------------------------------- the config

def decimal_for(width, dim, differ_from_one=False):
    """The shortest decimal string v with floor(dim * v) == width in float64 (and v != 1 when asked):
    width / dim when it floors back exactly, else (width + 0.5) / dim, which always does."""
    for value in (width / dim, (width + 0.5) / dim):
        text = repr(value)
        if math.floor(dim * float(text)) == width and not (differ_from_one and float(text) == 1.0):
            return text
    raise ConvertError(f"no decimal factor gives width {width} from dim {dim}")


def shape_of(sd, name):
    if name not in sd:
        raise ConvertError(f"tensor {name} is missing")
    return tuple(sd[name].shape)


def infer_config(sd):
    """The config of a minLM state_dict (norms already as `.weight`), checking every tensor against it."""
    emb = shape_of(sd, "token_emb.weight")
    if len(emb) != 2:
        raise ConvertError(f"tensor token_emb.weight has shape {list(emb)}, expected [num_tokens, dim]")
    num_tokens, dim = emb
    depth = 0
    while any(name.startswith(f"layers.{depth}.") for name in sd):
        depth += 1
    if depth == 0:
        raise ConvertError("no layers.0.* tensors: not a minLM checkpoint")
    kinds = [proj for proj in CELLS if f"layers.0.2.{proj}.weight" in sd]
    if len(kinds) != 1:
        raise ConvertError("layers.0.2 needs exactly one of the tensors layers.0.2.to_hidden_and_gate.weight "
                           f"(minGRU) and layers.0.2.to_hidden_and_f_i_gate.weight (minLSTM), found {len(kinds)}")
    proj = kinds[0]
    cell, gates = CELLS[proj]
    rows = shape_of(sd, f"layers.0.2.{proj}.weight")[0]
    if rows % gates or rows == 0:
        raise ConvertError(f"tensor layers.0.2.{proj}.weight has {rows} rows, not a positive multiple of {gates}")
    dim_inner = rows // gates
    has_out = "layers.0.2.to_out.weight" in sd
    if not has_out and dim_inner != dim:
        raise ConvertError(f"tensor layers.0.2.to_out.weight is missing (inner width {dim_inner} != dim {dim})")
    ff_inner = shape_of(sd, "layers.0.4.0.weight")[0]
    conv = "layers.0.0.net.0.weight" in sd
    kernel = shape_of(sd, "layers.0.0.net.0.weight")[-1] if conv else 0

    expected = {"token_emb.weight": (num_tokens, dim)}
    for i in range(depth):
        p = f"layers.{i}."
        if conv:
            expected.update({p + "0.net.0.weight": (dim, 1, kernel), p + "0.net.0.bias": (dim,),
                             p + "0.net.1.weight": (dim, dim, 1), p + "0.net.1.bias": (dim,)})
        expected.update({p + "1.weight": (dim,), p + f"2.{proj}.weight": (gates * dim_inner, dim)})
        if has_out:
            expected[p + "2.to_out.weight"] = (dim, dim_inner)
        expected.update({p + "3.weight": (dim,), p + "4.0.weight": (ff_inner, dim), p + "4.0.bias": (ff_inner,),
                         p + "4.2.weight": (dim, ff_inner), p + "4.2.bias": (dim,)})
    expected.update({"norm.weight": (dim,), "to_logits.weight": (num_tokens, dim)})
    for name, shape in expected.items():
        got = shape_of(sd, name)
        if got != shape:
            raise ConvertError(f"tensor {name} has shape {list(got)}, expected {list(shape)}")
    for name in sd:
        if name not in expected:
            raise ConvertError(f"tensor {name} is not part of a minLM ({cell}, depth {depth}, "
                               f"conv {kernel or 'none'}, to_out {'yes' if has_out else 'no'})")

    expansion = decimal_for(dim_inner, dim, differ_from_one=True) if has_out else "1.0"
    ff_mult = decimal_for(ff_inner, dim)
    # the loader's rule, in float64: the factors must give back exactly these widths and the to_out flag
    assert math.floor(dim * float(expansion)) == dim_inner and (float(expansion) != 1.0) == has_out
    assert math.floor(dim * float(ff_mult)) == ff_inner
    return {"cell": cell, "num_tokens": num_tokens, "dim": dim, "depth": depth, "dim_inner": dim_inner,
            "ff_inner": ff_inner, "expansion_factor": expansion, "ff_mult": ff_mult, "conv_kernel_size": kernel}


# ---------------------------------------------------------------- writing

def quantize_rows(w):
    """Symmetric per-row int8: w[r, c] ~ q[r, c] * scale[r], scale = max|w[r, :]| / 127 (1 for a zero row)."""
    w = w.numpy()
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def is_q8_matrix(name):
    return name in Q8_TOP or (name.startswith("layers.") and name.endswith(Q8_LAYER_SUFFIXES))


def encode(sd, dtype):
    """[(name, safetensors dtype, shape, raw little-endian bytes)] in the state_dict's order."""
    out = []
    for name, t in sd.items():
        shape = list(t.shape)
        if dtype == "q8" and is_q8_matrix(name):
            q, scale = quantize_rows(t)
            out.append((name, "I8", shape, q.tobytes()))
            out.append((name + ".scale", "F32", [shape[0]], scale.astype("<f4").tobytes()))
        elif dtype == "f16":
            with np.errstate(over="ignore"):
                half = t.numpy().astype("<f2")
            if not np.isfinite(half).all():
                raise ConvertError(f"tensor {name} has values beyond the float16 range; use --dtype f32 or q8")
            out.append((name, "F16", shape, half.tobytes()))
        else:
            out.append((name, "F32", shape, t.numpy().astype("<f4").tobytes()))
    return out


def write_safetensors(path, tensors, metadata):
    """The safetensors layout its reference implementation accepts: tensors back to back with no gaps.
    The header is padded with spaces so that the data starts on a 64-byte boundary, and the tensors are
    written widest element first (F32, then F16, then I8, each group in state_dict order) so that every
    F32 tensor stays 4-byte aligned and the engine can use it in place. Returns the file size."""
    width = {"F32": 0, "F16": 1, "I8": 2}
    tensors = sorted(tensors, key=lambda t: width[t[1]])  # stable: state_dict order within a dtype
    header, offset = {"__metadata__": metadata}, 0
    for name, dt, shape, data in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % ALIGN)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, _, data in tensors:
            f.write(data)
    return 8 + len(text) + offset


def convert(src, dst, dtype="f32", name=None, description=None, license=None, training_data=None, tokenizer=None):
    """Converts checkpoint src to the model file dst. Returns (config, parameter count, bytes written)."""
    sd = load_state_dict(src)
    old_norm = convert_old_norms(sd)
    cfg = dict(infer_config(sd), old_norm=old_norm)
    if tokenizer is None:
        tokenizer = "bytes" if cfg["num_tokens"] == 256 else "none"
    if tokenizer == "bytes" and cfg["num_tokens"] != 256:
        raise ConvertError(f"--tokenizer bytes needs 256 tokens, the checkpoint has {cfg['num_tokens']}")
    meta = {"format": "mingru", "version": "1", "cell": cfg["cell"], "num_tokens": str(cfg["num_tokens"]),
            "dim": str(cfg["dim"]), "depth": str(cfg["depth"]), "expansion_factor": cfg["expansion_factor"],
            "ff_mult": cfg["ff_mult"], "conv_kernel_size": str(cfg["conv_kernel_size"]), "tokenizer": tokenizer}
    for key, value in (("name", name), ("description", description), ("license", license),
                       ("training_data", training_data)):
        if value is not None:
            meta[key] = value
    size = write_safetensors(dst, encode(sd, dtype), meta)
    return cfg, sum(t.numel() for t in sd.values()), size


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a minGRU-pytorch minLM / minGRULM checkpoint to a mingru "
                                             "model file (docs/format.md).")
    ap.add_argument("checkpoint", help="state_dict saved with torch.save")
    ap.add_argument("out", help="the .safetensors file to write")
    ap.add_argument("--dtype", choices=("f32", "f16", "q8"), default="f32")
    ap.add_argument("--name")
    ap.add_argument("--description")
    ap.add_argument("--license")
    ap.add_argument("--training-data")
    ap.add_argument("--tokenizer", choices=("bytes", "none"), help="default: bytes if 256 tokens, else none")
    a = ap.parse_args(argv)
    if MISSING:
        names, debian, pip = zip(*MISSING)
        print(f"convert.py needs PyTorch and numpy; this Python ({sys.executable} {platform.python_version()}) has "
              f"{'neither' if len(names) == 2 else 'no ' + names[0]}. On Debian: apt-get install {' '.join(debian)}, "
              f"then run it with /usr/bin/python3; elsewhere: pip install {' '.join(pip)}.", file=sys.stderr)
        return 1
    try:
        cfg, params, size = convert(a.checkpoint, a.out, a.dtype, a.name, a.description, a.license,
                                    a.training_data, a.tokenizer)
    except (ConvertError, OSError) as e:
        print(f"convert.py: error: {e}", file=sys.stderr)
        return 1
    print(f"{a.out}: min{cfg['cell'].upper()} LM, {cfg['depth']} layers, dim {cfg['dim']}, inner {cfg['dim_inner']} "
          f"(expansion_factor {cfg['expansion_factor']}), ff {cfg['ff_inner']} (ff_mult {cfg['ff_mult']}), "
          f"conv {cfg['conv_kernel_size'] or 'none'}, {cfg['num_tokens']} tokens"
          f"{', gamma norms (minGRULM)' if cfg['old_norm'] else ''}; {params:,} parameters; {a.dtype}; "
          f"{size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
