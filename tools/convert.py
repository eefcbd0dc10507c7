#!/usr/bin/python3
"""Converts a minGRU-pytorch or BorealisAI/minRNNs checkpoint to a mingru model file (docs/format.md).

    /usr/bin/python3 tools/convert.py CHECKPOINT OUT.safetensors [--config config.yaml] [--dtype f32|f16|q8]
        [--name NAME] [--description TEXT] [--license TEXT] [--training-data TEXT] [--tokenizer bytes|none|FILE]

Two families, told apart by their tensor names (the converter says which it found):
- minGRU-pytorch (lucidrains): the state_dict of a `minLM` (or an older `minGRULM`), below;
- BorealisAI/minRNNs (the paper's authors): their `ckpt.tar` / `best_ckpt.tar` (a pickled AttrDict whose
  `model` is the state_dict; read without the attrdict package) or the state_dict itself, with the settings of
  their `config.yaml` (--config: the one their main.py writes beside the checkpoint). What the weights cannot
  tell comes from it (minLSTM's use_coeff_norm); without it such a checkpoint is refused, naming the setting.
  Biases, the learned h0, GEGLU or no feed-forward, BatchNorm (folded into a per-channel affine) and a head of
  d_out outputs become the metadata and tensors of docs/format.md's minRNNs form. Float inputs (layer_in) are
  refused.

CHECKPOINT.pt is the state_dict of a `minLM` (or of an older `minGRULM`) saved with torch.save; a dict that
wraps it under 'state_dict' or 'model' works too, and a leading 'module.' or '_orig_mod.' (DataParallel,
torch.compile) is stripped from the names. The whole config (cell, widths, depth, convolution) is inferred
from the tensor names and shapes, and every tensor is checked: a missing, unknown or wrongly shaped tensor
stops the conversion with a message naming it (exit status 1).

--dtype f32 (default) stores every tensor as F32; f16 stores every tensor as F16; q8 stores the large
matrices as per-row symmetric int8 plus an F32 `NAME.scale` and the rest as F32. --tokenizer defaults to
`bytes` when the vocabulary has 256 tokens, else `none`. --tokenizer FILE, a Hugging Face tokenizer.json or a
SentencePiece .model, embeds that file in the model (docs/format.md: __metadata__ "tokenizer" is "tokenizer.json" or
"sentencepiece", and the file's bytes are the U8 tensor `tokenizer`, last in the file, whatever --dtype says). Its
vocabulary must fit the model's: a tokenizer with more tokens than the embedding has rows is refused, naming both.

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
# DataParallel, torch.compile, and the Hugging Face wrapper of suayptalha/minGRULM-base (MinGRULMForCausalLM)
PREFIXES = ("module.", "_orig_mod.", "model.min_gru_model.")
CELLS = {"to_hidden_and_gate": ("gru", 2), "to_hidden_and_f_i_gate": ("lstm", 3)}
# the matrices that --dtype q8 quantizes (docs/format.md); "layers.i" + suffix, plus the two below
Q8_LAYER_SUFFIXES = (".2.to_hidden_and_gate.weight", ".2.to_hidden_and_f_i_gate.weight", ".2.to_out.weight",
                     ".4.0.weight", ".4.2.weight")
Q8_TOP = ("token_emb.weight", "to_logits.weight")


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------- reading the checkpoint

class _AttrDict(dict):
    """A stand-in for attrdict's AttrDict (which BorealisAI/minRNNs pickles its checkpoints as), for unpickling
    their files without that package: attrdict 2.0.1 pickles the dict's items, then the state
    (mapping, sequence_type, allow_invalid_attributes)."""

    def __setstate__(self, state):
        mapping = state[0] if isinstance(state, tuple) else state
        if isinstance(mapping, dict) and mapping is not self:
            dict.update(self, mapping)


def _torch_load(path):
    """torch.load, with attrdict's AttrDict made importable first if the package is missing."""
    import types
    try:
        import attrdict  # noqa: F401
    except ImportError:
        pkg, sub = types.ModuleType("attrdict"), types.ModuleType("attrdict.dictionary")
        pkg.AttrDict = sub.AttrDict = _AttrDict
        pkg.dictionary = sub
        sys.modules.setdefault("attrdict", pkg)
        sys.modules.setdefault("attrdict.dictionary", sub)
    return torch.load(path, map_location="cpu")


def load_state_dict(path):
    """The checkpoint's tensors as float32, in their order, with wrapper prefixes stripped."""
    save_sd = f"save it with torch.save(model.state_dict(), {path!r}) and convert that"
    try:
        obj = _torch_load(path)
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
        if name.endswith(".num_batches_tracked"):  # BatchNorm's counter: not a weight
            continue
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


def count_layers(sd, what):
    """How many layers.i.* there are (i = 0, 1, ... without a gap); ConvertError naming `what` if none."""
    depth = 0
    while any(name.startswith(f"layers.{depth}.") for name in sd):
        depth += 1
    if depth == 0:
        raise ConvertError(f"no layers.0.* tensors: not a {what}")
    return depth


def infer_config(sd):
    """The config of a minLM state_dict (norms already as `.weight`), checking every tensor against it."""
    emb = shape_of(sd, "token_emb.weight")
    if len(emb) != 2:
        raise ConvertError(f"tensor token_emb.weight has shape {list(emb)}, expected [num_tokens, dim]")
    num_tokens, dim = emb
    depth = count_layers(sd, "minLM checkpoint")
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


# ---------------------------------------------------------------- BorealisAI/minRNNs

def is_minrnns(sd):
    """Their tensor names: a top-level to_out head (minLM's is to_logits), biases on the cell's projection, a
    learned init_hidden_state, GEGLU's mult_bias, BatchNorm norms, or layer_in."""
    return ("to_out.weight" in sd or "layer_in.weight" in sd or "layers.0.2.to_hidden_and_gate.bias" in sd
            or "layers.0.2.init_hidden_state" in sd or "layers.0.4.1.mult_bias" in sd or "norm.norm.weight" in sd)


def read_config_yaml(path):
    """Their config.yaml (main.py's yaml.dump of the merged config) as a dict; the strings 'None', 'False' and
    'True' as their main.py reads them."""
    try:
        import yaml
    except ImportError as e:
        raise ConvertError("--config needs PyYAML (Debian: python3-yaml; pip install pyyaml)") from e
    class Loader(yaml.SafeLoader):
        """Safe, and reads the python/... tags yaml.dump may write (a tuple, an AttrDict) as plain lists and maps."""

    def plain(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", plain)
    try:
        with open(path) as f:
            cfg = yaml.load(f, Loader=Loader)  # noqa: S506 (a SafeLoader)
    except (OSError, yaml.YAMLError) as e:
        raise ConvertError(f"cannot read the config {path}: {e}") from e
    if not isinstance(cfg, dict):
        raise ConvertError(f"the config {path} is not a mapping of settings")
    return {k: {"None": None, "False": False, "True": True}.get(v, v) if isinstance(v, str) else v for k, v in cfg.items()}


def fold_batchnorm(sd, prefix, eps=1e-5):
    """BatchNorm1d in eval mode, y = (x - mean) / sqrt(var + eps) * weight + bias, as x * scale + shift."""
    w, b = sd.pop(prefix + "norm.weight"), sd.pop(prefix + "norm.bias")
    mean, var = sd.pop(prefix + "norm.running_mean"), sd.pop(prefix + "norm.running_var")
    scale = w / torch.sqrt(var + eps)
    return scale, b - mean * scale


def convert_minrnns(sd, config):
    """Their state_dict (and config) -> (minLM-form state_dict in the engine's names and order, metadata, config
    summary). Every setting the weights give is checked against the config where both say it."""
    if "layer_in.weight" in sd:
        raise ConvertError("this BorealisAI/minRNNs model reads float inputs (layer_in, vocab_size: None); the engine "
                           "runs models of tokens (an embedding) only")
    cfg = config or {}
    emb = shape_of(sd, "token_emb.weight")
    num_tokens, dim = emb
    depth = count_layers(sd, "BorealisAI/minRNNs model")
    rows = shape_of(sd, "layers.0.2.to_hidden_and_gate.weight")[0]
    dim_inner = shape_of(sd, "layers.0.2.to_out.weight")[1]
    if rows not in (2 * dim_inner, 3 * dim_inner):
        raise ConvertError(f"layers.0.2.to_hidden_and_gate.weight has {rows} rows: neither minGRU's 2 x {dim_inner} "
                           f"nor minLSTM's 3 x {dim_inner}")
    cell = "gru" if rows == 2 * dim_inner else "lstm"
    named = {"gru": "minGRU", "lstm": "minLSTM"}[cell]
    if cfg.get("model") not in (None, named):
        raise ConvertError(f"the config says model: {cfg['model']}, the weights are a {named} ({rows} = "
                           f"{rows // dim_inner} x {dim_inner} projection rows)")
    if cell == "lstm" and "use_coeff_norm" not in cfg:
        raise ConvertError("a BorealisAI/minRNNs minLSTM: whether it normalises its gates (use_coeff_norm) is not in "
                           "the weights; give their config.yaml with --config (the file beside the checkpoint)")
    coeff_norm = bool(cfg.get("use_coeff_norm", False))
    h0 = "layers.0.2.init_hidden_state" in sd
    batchnorm = "norm.norm.weight" in sd
    ff = "layers.0.4.0.weight" in sd
    conv = "layers.0.0.net.0.weight" in sd
    kernel = shape_of(sd, "layers.0.0.net.0.weight")[-1] if conv else 0
    d_out = shape_of(sd, "to_out.weight")[0]
    ff_inner = shape_of(sd, "layers.0.4.1.mult_bias")[0] if ff else 0
    for key, want in (("vocab_size", num_tokens), ("d_model", dim), ("num_layers", depth), ("d_out", d_out),
                      ("use_init_hidden_state", h0), ("enable_ff", ff), ("kernel_size", kernel or None),
                      ("norm_type", "BatchNorm" if batchnorm else "RMSNorm")):
        if key in cfg and cfg[key] != want and not (key == "kernel_size" and not cfg[key] and not want):
            raise ConvertError(f"the config says {key}: {cfg[key]}, the weights say {want}")
    if "expand_dim" in cfg and int(dim * cfg["expand_dim"]) != dim_inner:
        raise ConvertError(f"the config says expand_dim: {cfg['expand_dim']} (inner width {int(dim * cfg['expand_dim'])}), "
                           f"the weights have inner width {dim_inner}")

    out, G = {}, 2 if cell == "gru" else 3
    proj = "to_hidden_and_gate" if cell == "gru" else "to_hidden_and_f_i_gate"

    def take(src, dst=None, shape=None):
        t = sd.pop(src) if src in sd else None
        if t is None:
            raise ConvertError(f"tensor {src} is missing")
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise ConvertError(f"tensor {src} has shape {list(t.shape)}, expected {list(shape)}")
        out[dst or src] = t

    def norm(src_prefix, dst_prefix):
        if batchnorm:
            scale, shift = fold_batchnorm(sd, src_prefix)
            out[dst_prefix + "weight"], out[dst_prefix + "bias"] = scale, shift
        else:
            out[dst_prefix + "weight"] = sd.pop(src_prefix + "gamma") + 1.0  # F.normalize(x) sqrt(dim) (gamma + 1)

    take("token_emb.weight", shape=(num_tokens, dim))
    for i in range(depth):
        p = f"layers.{i}."
        if conv:
            take(p + "0.net.0.weight", shape=(dim, 1, kernel)), take(p + "0.net.0.bias", shape=(dim,))
            take(p + "0.net.1.weight", shape=(dim, dim, 1)), take(p + "0.net.1.bias", shape=(dim,))
        try:
            norm(p + "1.", p + "1.")
            if h0:
                take(p + "2.init_hidden_state", shape=(dim_inner,))
            take(p + "2.to_hidden_and_gate.weight", f"{p}2.{proj}.weight", (G * dim_inner, dim))
            take(p + "2.to_hidden_and_gate.bias", f"{p}2.{proj}.bias", (G * dim_inner,))
            take(p + "2.to_out.weight", shape=(dim, dim_inner)), take(p + "2.to_out.bias", shape=(dim,))
            if ff:
                norm(p + "3.", p + "3.")
                take(p + "4.0.weight", shape=(2 * ff_inner, dim)), take(p + "4.0.bias", shape=(2 * ff_inner,))
                take(p + "4.1.mult_bias", shape=(ff_inner,))
                take(p + "4.2.weight", shape=(dim, ff_inner)), take(p + "4.2.bias", shape=(dim,))
            else:  # their ff_norm exists without a feed-forward, unused
                for n in [k for k in sd if k.startswith(p + "3.")]:
                    sd.pop(n)
        except KeyError as e:
            raise ConvertError(f"tensor {e.args[0]} is missing") from None
    try:
        norm("norm.", "norm.")
    except KeyError as e:
        raise ConvertError(f"tensor {e.args[0]} is missing") from None
    take("to_out.weight", "to_logits.weight", (d_out, dim))
    if sd:
        raise ConvertError(f"tensor {next(iter(sd))} is not part of a BorealisAI/minRNNs {named} ({depth} layers, "
                           f"conv {kernel or 'none'}, ff {'on' if ff else 'off'})")
    meta = {"cell_out": "always", "cell_bias": "1", "h0": "learned" if h0 else "zeros",
            "norm": "affine" if batchnorm else "rms", "ff": "geglu" if ff else "none", "num_outputs": str(d_out)}
    if cell == "lstm":
        meta["lstm_gates"] = "normalized" if coeff_norm else "sigmoid"
    summary = {"cell": cell, "num_tokens": num_tokens, "dim": dim, "depth": depth, "dim_inner": dim_inner,
               "ff_inner": ff_inner, "expansion_factor": decimal_for(dim_inner, dim),
               "ff_mult": decimal_for(ff_inner, dim) if ff else "1.0", "conv_kernel_size": kernel,
               "family": "BorealisAI/minRNNs", "d_out": d_out, "h0": h0, "coeff_norm": coeff_norm,
               "norm_type": "BatchNorm" if batchnorm else "RMSNorm", "ff": ff}
    return out, meta, summary


# ---------------------------------------------------------------- the tokenizer a model carries

def _varint(data, at):
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("a truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80:
            return value, at


def count_pieces(data):
    """The number of `pieces` (field 1) of a SentencePiece ModelProto, read as protobuf: the top-level fields are
    walked by their wire types (varint, 64-bit, length-delimited, 32-bit)."""
    count, at = 0, 0
    while at < len(data):
        key, at = _varint(data, at)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 1:
            at += 8
        elif wire == 2:
            length, at = _varint(data, at)
            at += length
            count += field == 1
        elif wire == 5:
            at += 4
        else:
            raise ValueError(f"wire type {wire}")
        if at > len(data) or field == 0:
            raise ValueError("a field runs past the end")
    return count


def read_tokenizer(path):
    """(kind, vocabulary size, bytes) of a tokenizer file: a Hugging Face tokenizer.json (its model's vocab and its
    added_tokens: the largest id + 1) or a SentencePiece .model (its pieces: with Debian's python3-sentencepiece
    when present, else counted in the protobuf)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConvertError(f"cannot read the tokenizer {path}: {e.strerror}") from e
    if data.lstrip()[:1] == b"{":
        try:
            tok = json.loads(data.decode("utf-8"))
            vocab = tok["model"]["vocab"]
            ids = list(vocab.values()) if isinstance(vocab, dict) else list(range(len(vocab)))  # Unigram: a list
            ids += [t["id"] for t in tok.get("added_tokens") or []]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
            raise ConvertError(f"{path} is not a Hugging Face tokenizer.json (no model.vocab: {e!r})") from e
        if not ids or not all(isinstance(i, int) and i >= 0 for i in ids):
            raise ConvertError(f"{path}: a tokenizer.json whose ids are not non-negative integers")
        return "tokenizer.json", max(ids) + 1, data
    try:
        import sentencepiece
        sp = sentencepiece.SentencePieceProcessor()
        sp.LoadFromSerializedProto(data)
        return "sentencepiece", sp.get_piece_size(), data
    except ImportError:
        pass
    except Exception as e:  # sentencepiece raises RuntimeError / OSError on a file that is not a model
        raise ConvertError(f"{path} is neither a tokenizer.json nor a SentencePiece .model ({e})") from e
    try:
        pieces = count_pieces(data)
    except ValueError as e:
        raise ConvertError(f"{path} is neither a tokenizer.json nor a SentencePiece .model ({e})") from e
    if not pieces:
        raise ConvertError(f"{path} is neither a tokenizer.json nor a SentencePiece .model (no pieces)")
    return "sentencepiece", pieces, data


# ---------------------------------------------------------------- writing

def quantize_rows(w):
    """Symmetric per-row int8: w[r, c] ~ q[r, c] * scale[r], scale = max|w[r, :]| / 127 (1 for a zero row; max|w[r, :]|
    itself where the division underflows to zero, a row of the smallest subnormals, as src/model.c's mg_quantize_rows)."""
    w = w.numpy()
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    scale = np.where(scale > 0, scale, amax).astype(np.float32)
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
    written widest element first (F32, then F16, then I8, each group in state_dict order; the U8 tokenizer last) so that every
    F32 tensor stays 4-byte aligned and the engine can use it in place. Returns the file size."""
    width = {"F32": 0, "F16": 1, "I8": 2, "U8": 3}  # U8: the tokenizer's bytes, last
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


def convert(src, dst, dtype="f32", name=None, description=None, license=None, training_data=None, tokenizer=None,
            config=None):
    """Converts checkpoint src to the model file dst (config: the path of a BorealisAI/minRNNs config.yaml).
    Returns (config, parameter count, bytes written)."""
    sd = load_state_dict(src)
    extra = {}
    if is_minrnns(sd):
        sd, extra, cfg = convert_minrnns(sd, read_config_yaml(config) if config else None)
        cfg["old_norm"] = False
    else:
        if config:
            raise ConvertError(f"--config is for BorealisAI/minRNNs checkpoints; {src} is a minGRU-pytorch one (its "
                               "config is in its tensor names)")
        old_norm = convert_old_norms(sd)
        cfg = dict(infer_config(sd), old_norm=old_norm, family="minGRU-pytorch")
    if tokenizer is None:
        tokenizer = "bytes" if cfg["num_tokens"] == 256 else "none"
    if tokenizer == "bytes" and cfg["num_tokens"] != 256:
        raise ConvertError(f"--tokenizer bytes needs 256 tokens, the checkpoint has {cfg['num_tokens']}")
    carried = None
    if tokenizer not in ("bytes", "none"):  # a file: embedded as the U8 tensor "tokenizer"
        tokenizer, size, data = read_tokenizer(tokenizer)
        if size > cfg["num_tokens"]:
            raise ConvertError(f"the tokenizer has {size:,} tokens; the model's embedding has {cfg['num_tokens']:,} rows")
        carried = ("tokenizer", "U8", [len(data)], data)
    cfg["tokenizer"] = tokenizer
    meta = {"format": "mingru", "version": "1", "cell": cfg["cell"], "num_tokens": str(cfg["num_tokens"]),
            "dim": str(cfg["dim"]), "depth": str(cfg["depth"]), "expansion_factor": cfg["expansion_factor"],
            "ff_mult": cfg["ff_mult"], "conv_kernel_size": str(cfg["conv_kernel_size"]), "tokenizer": tokenizer, **extra}
    for key, value in (("name", name), ("description", description), ("license", license),
                       ("training_data", training_data)):
        if value is not None:
            meta[key] = value
    size = write_safetensors(dst, encode(sd, dtype) + ([carried] if carried else []), meta)
    return cfg, sum(t.numel() for t in sd.values()), size


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a minGRU-pytorch minLM / minGRULM checkpoint, or a BorealisAI/minRNNs "
                                             "one (with --config), to a mingru model file (docs/format.md).")
    ap.add_argument("checkpoint", help="state_dict saved with torch.save, or a BorealisAI/minRNNs ckpt.tar")
    ap.add_argument("--config", help="a BorealisAI/minRNNs checkpoint's config.yaml")
    ap.add_argument("out", help="the .safetensors file to write")
    ap.add_argument("--dtype", choices=("f32", "f16", "q8"), default="f32")
    ap.add_argument("--name")
    ap.add_argument("--description")
    ap.add_argument("--license")
    ap.add_argument("--training-data")
    ap.add_argument("--tokenizer", metavar="bytes|none|FILE",
                    help="bytes, none, or a tokenizer.json / SentencePiece .model to embed (default: bytes if 256 "
                         "tokens, else none)")
    a = ap.parse_args(argv)
    if MISSING:
        names, debian, pip = zip(*MISSING)
        print(f"convert.py needs PyTorch and numpy; this Python ({sys.executable} {platform.python_version()}) has "
              f"{'neither' if len(names) == 2 else 'no ' + names[0]}. On Debian: apt-get install {' '.join(debian)}, "
              f"then run it with /usr/bin/python3; elsewhere: pip install {' '.join(pip)}.", file=sys.stderr)
        return 1
    try:
        cfg, params, size = convert(a.checkpoint, a.out, a.dtype, a.name, a.description, a.license,
                                    a.training_data, a.tokenizer, a.config)
    except (ConvertError, OSError) as e:
        print(f"convert.py: error: {e}", file=sys.stderr)
        return 1
    extra = (f", d_out {cfg['d_out']}, h0 {'learned' if cfg['h0'] else 'zeros'}, {cfg['norm_type']}, "
             f"ff {'GEGLU' if cfg['ff'] else 'none'}" + (f", coeff norm {'on' if cfg['coeff_norm'] else 'off'}" if cfg['cell'] == 'lstm' else "")
             if cfg["family"] == "BorealisAI/minRNNs" else "")
    print(f"{a.out}: {cfg['family']} checkpoint: min{cfg['cell'].upper()} LM, {cfg['depth']} layers, dim {cfg['dim']}, inner {cfg['dim_inner']} "
          f"(expansion_factor {cfg['expansion_factor']}), ff {cfg['ff_inner']} (ff_mult {cfg['ff_mult']}), "
          f"conv {cfg['conv_kernel_size'] or 'none'}, {cfg['num_tokens']} tokens (tokenizer {cfg['tokenizer']})"
          f"{', gamma norms (minGRULM)' if cfg['old_norm'] else ''}{extra}; {params:,} parameters; {a.dtype}; "
          f"{size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
