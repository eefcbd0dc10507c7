#!/usr/bin/python3
"""Writes the training fixtures of the tests (deterministic: running it twice gives the same bytes).

    /usr/bin/python3 tools/train_fixtures.py [OUTDIR]       # default OUTDIR: tests/fixtures/train

Per case NAME: the F32 model tests/fixtures/lm/NAME.safetensors (tools/lm_fixtures.py) is loaded into a
MinLMRef (tools/reference.py), widened to float64, and trained by PyTorch autograd for n_steps steps, each on a
batch of random byte rows: loss = mean cross-entropy of rows[:, 1:] given rows[:, :-1]; loss.backward();
clip_grad_norm_(parameters, clip); torch.optim.AdamW(parameters, lr, betas, eps, weight_decay).step().
NAME.bin, little-endian:
    b"MGTRAIN1", u32 batch, u32 seq_len, u32 n_steps,
    f32 lr, f32 beta1, f32 beta2, f32 eps, f32 weight_decay, f32 clip,
    u32 n_tensors, per tensor (model.named_parameters() order): u32 name_len, name (UTF-8), u32 count,
    int32 tokens[n_steps, batch, seq_len + 1],
    f32 losses[n_steps] (before each update), f32 grad_norms[n_steps] (total L2 norm before clipping),
    f32 grads (step 0, before clipping; all tensors in order, row-major), f32 final_params (same order).
The hyperparameters are rounded to float32 first and those values are used, so the file holds what was used.
manifest.json lists the cases.

The BorealisAI/minRNNs cases (MINRNNS_CASES, names starting "minrnns-"): their own Model (tools/minrnns_ref.py) with
random weights (tools/minrnns_fixtures.py's build), converted by tools/convert.py --config to
tests/fixtures/train/NAME.safetensors, then trained in float64 as above. The file lists the tensors as the engine
orders and names them (docs/format.md: their norms' gamma is the engine's weight = gamma + 1, with the same gradient;
the final values are gamma + 1).

Self-checks: the step-0 float64 gradients agree with central differences (h = 1e-6) on two random elements
(with a nonzero gradient) of each tensor, to 1e-6 relative + 5e-9 (the differences' rounding noise); the same steps in float32 are run and their distance to the float64 run is printed (what float32
rounding alone moves); whether clipping was active at each step is printed.
"""
import copy
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lm_fixtures import read_model_file, rebuild  # noqa: E402
import minrnns_fixtures  # noqa: E402

BATCH, SEQ_LEN, STEPS = 3, 17, 5
MINRNNS_STEPS = 10  # as the outside check trains them
DEFAULT = dict(lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, clip=1.0)
CASES = [  # name, hyperparameters different from DEFAULT
    ("gru-d32-l2", {}),
    ("gru-d24-l3-conv3", {}),
    ("lstm-d32-l2", {}),
    ("lstm-d16-l2-conv4-e1", {}),
    ("gru-d40-l1-e1", dict(lr=1e-2, beta1=0.8, beta2=0.99, weight_decay=0.0, clip=1000.0)),  # no clipping
]
HYPER = ("lr", "beta1", "beta2", "eps", "weight_decay", "clip")
# the five forms of the issue "one forward": minLSTM (sigmoid gates) and with coefficient norm, minGRU with a learned
# h0, bytes without h0, a conv of 4; their configs over tools/minrnns_fixtures.py's BASE
MINRNNS_CASES = [
    ("minrnns-lstm-h0-ff-d16-l2", dict(model="minLSTM", vocab_size=256, d_out=256, d_model=16, num_layers=2, expand_dim=1.5,
                                       enable_ff=True)),
    ("minrnns-lstm-coeffnorm-d16-l2", dict(model="minLSTM", vocab_size=256, d_out=256, d_model=16, num_layers=2, expand_dim=2,
                                           use_coeff_norm=True)),
    ("minrnns-gru-h0-ff-d16-l2", dict(model="minGRU", vocab_size=256, d_out=256, d_model=16, num_layers=2, expand_dim=1.5,
                                      enable_ff=True)),
    ("minrnns-gru-e1-d16-l2", dict(model="minGRU", vocab_size=256, d_out=256, d_model=16, num_layers=2, expand_dim=1,
                                   use_init_hidden_state=False)),
    ("minrnns-gru-conv4-ff-d16-l2", dict(model="minGRU", vocab_size=256, d_out=256, d_model=16, num_layers=2, expand_dim=1.5,
                                         kernel_size=4, enable_ff=True)),
]
# the engine's order of a layer's tensors (src/model.c, mg_model_list_tensors)
LAYER_ORDER = ["0.net.0.weight", "0.net.0.bias", "0.net.1.weight", "0.net.1.bias", "1.weight", "2.init_hidden_state",
               "2.to_hidden_and_gate.weight", "2.to_hidden_and_f_i_gate.weight", "2.to_hidden_and_gate.bias",
               "2.to_hidden_and_f_i_gate.bias", "2.to_out.weight", "2.to_out.bias", "3.weight", "4.0.weight", "4.0.bias",
               "4.1.mult_bias", "4.2.weight", "4.2.bias"]


def engine_name(name, cell):
    """Their parameter's name in the engine's file (tools/convert.py's BorealisAI mapping)."""
    if name == "to_out.weight":
        return "to_logits.weight"
    if name.endswith(".gamma") or name == "gamma":
        name = name[:-len("gamma")] + "weight"
    if cell == "minLSTM":
        name = name.replace("to_hidden_and_gate", "to_hidden_and_f_i_gate")
    return name


def engine_key(name):
    """The engine's position of a tensor: embedding, layers in order, the final norm, the head."""
    if name == "token_emb.weight":
        return (0, 0, 0)
    if name.startswith("layers."):
        _, i, rest = name.split(".", 2)
        return (1, int(i), LAYER_ORDER.index(rest))
    return (2, ["norm.weight", "to_logits.weight"].index(name), 0)


def loss_of(model, rows):
    logits = model(rows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1))


def train(model, tokens, hp):
    """Runs the steps in place; returns (losses, grad norms, step-0 gradients)."""
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                            weight_decay=hp["weight_decay"])
    losses, norms, grads = [], [], None
    for rows in tokens:
        opt.zero_grad()
        loss = loss_of(model, rows)
        loss.backward()
        losses.append(loss.item())
        if grads is None:
            grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
        norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), hp["clip"]).item())
        opt.step()
    return losses, norms, grads


def finite_difference_check(model, rows, grads, seed, h=1e-6):
    """(max |fd - grad|, max |fd - grad| / |grad|) over two random elements with a nonzero gradient per tensor,
    fd the central difference. Each difference carries ~1e-9 of rounding noise (a few ulps of the loss / h)."""
    g = torch.Generator().manual_seed(seed)
    worst_abs = worst_rel = 0.0
    with torch.no_grad():
        for p, grad in zip(model.parameters(), grads):
            nonzero = grad.reshape(-1).nonzero()[:, 0]
            if len(nonzero) == 0:  # a parameter nothing uses (their ff_norm without a feed-forward)
                continue
            for i in nonzero[torch.randint(0, len(nonzero), (2,), generator=g)].tolist():
                flat, old = p.view(-1), p.view(-1)[i].item()
                flat[i] = old + h
                up = loss_of(model, rows).item()
                flat[i] = old - h
                down = loss_of(model, rows).item()
                flat[i] = old
                fd, an = (up - down) / (2 * h), grad.view(-1)[i].item()
                assert abs(fd - an) <= 1e-6 * abs(an) + 5e-9, f"finite difference {fd:.9g}, gradient {an:.9g}"
                worst_abs, worst_rel = max(worst_abs, abs(fd - an)), max(worst_rel, abs(fd - an) / abs(an))
    return worst_abs, worst_rel


def f32(values):
    return np.asarray(values, dtype="<f4").tobytes()


def minrnns_case(c, name, config, outdir, tmp):
    """Their model for a MINRNNS_CASES entry, converted to outdir/NAME.safetensors; returns (float32 model, model file,
    the engine's names of its parameters in their order, their order sorted as the engine's)."""
    import yaml
    model, cfg = minrnns_fixtures.build(7000 + c, config)
    model.train()  # dropout 0: the same as eval
    ckpt, yml = os.path.join(tmp, name + ".pt"), os.path.join(tmp, name + ".yaml")
    torch.save(model.state_dict(), ckpt)
    with open(yml, "w") as f:
        yaml.dump(dict(cfg, task="fixture", expid=name), f)
    model_file = os.path.join(outdir, name + ".safetensors")
    convert = os.path.join(os.path.dirname(os.path.abspath(__file__)), "convert.py")
    subprocess.run([sys.executable, convert, ckpt, model_file, "--config", yml, "--tokenizer", "bytes"], check=True,
                   capture_output=True)
    names = [engine_name(n, cfg["model"]) for n, _ in model.named_parameters()]
    with open(model_file, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    # their ff_norm without a feed-forward (enable_ff false) is a parameter that nothing uses: not in the file
    kept = [i for i, n in enumerate(names) if n in header]
    assert sorted(names[i] for i in kept) == sorted(k for k in header if k != "__metadata__"), f"{name}: {names} vs the file's"
    assert all(n in header or (n.endswith(".3.weight") and not cfg["enable_ff"]) for n in names), f"{name}: {names}"
    order = sorted(kept, key=lambda i: engine_key(names[i]))
    return model, model_file, names, order


def main():
    torch.set_num_threads(1)  # a fixed reduction order
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "train")
    os.makedirs(outdir, exist_ok=True)
    manifest = {"generator": "tools/train_fixtures.py", "cases": []}
    total = 0
    tmp = tempfile.mkdtemp()
    for c, (name, overrides) in enumerate(CASES + MINRNNS_CASES):
        minrnns = c >= len(CASES)
        hp = {k: float(np.float32(v)) for k, v in {**DEFAULT, **({} if minrnns else overrides)}.items()}
        if minrnns:
            model32, _, names, order = minrnns_case(c, name, overrides, outdir, tmp)
            model_file = os.path.join("tests", "fixtures", "train", name + ".safetensors")  # where the tests read it
        else:
            model_file = os.path.join("tests", "fixtures", "lm", name + ".safetensors")
            model32 = rebuild(*read_model_file(os.path.join(root, model_file)))
            names = [n for n, _ in model32.named_parameters()]
            order = list(range(len(names)))
        model = copy.deepcopy(model32).double()
        start = copy.deepcopy(model)
        gen = torch.Generator().manual_seed(5000 + c)
        steps = MINRNNS_STEPS if minrnns else STEPS
        tokens = torch.randint(0, 256, (steps, BATCH, SEQ_LEN + 1), generator=gen)

        losses, norms, grads = train(model, tokens, hp)
        fd_abs, fd_rel = finite_difference_check(start, tokens[0], grads, 6000 + c)
        losses32, _, grads32 = train(model32, tokens, hp)
        grad_diff = max((a.double() - b).abs().max().item() / b.abs().max().item() for a, b in zip(grads32, grads)
                        if b.abs().max().item() > 0)
        loss_diff = max(abs(a - b) / abs(b) for a, b in zip(losses32, losses))
        param_diff = max((a.double() - b).abs().max().item() for a, b in zip(model32.parameters(), model.parameters()))
        assert loss_diff < 1e-3 and param_diff < 1e-2, f"{name}: float32 and float64 runs diverge"

        params = list(model.parameters())
        # the engine's values: a gamma norm's weight is gamma + 1 (the same gradient)
        final = [p.detach() + 1 if n.endswith("gamma") else p.detach() for (n, _), p in zip(model.named_parameters(), params)]
        out = [b"MGTRAIN1", struct.pack("<III", BATCH, SEQ_LEN, steps), f32([hp[k] for k in HYPER]),
               struct.pack("<I", len(order))]
        for i in order:
            n = names[i]
            out.append(struct.pack("<I", len(n.encode())) + n.encode() + struct.pack("<I", params[i].numel()))
        out += [tokens.numpy().astype("<i4").tobytes(), f32(losses), f32(norms)]
        out += [f32(grads[i].reshape(-1).numpy()) for i in order]
        out += [f32(final[i].reshape(-1).numpy()) for i in order]
        path = os.path.join(outdir, name + ".bin")
        with open(path, "wb") as f:
            f.write(b"".join(out))
        total += os.path.getsize(path)
        manifest["cases"].append({"name": name, "file": name + ".bin", "model": model_file, "batch": BATCH,
                                  "seqLen": SEQ_LEN, "steps": steps, "tensors": len(order),
                                  "parameters": sum(params[i].numel() for i in order),
                                  **{"weightDecay" if k == "weight_decay" else k: hp[k] for k in HYPER}})

        clipped = " ".join(f"{n:.4g}{'*' if n > hp['clip'] else ''}" for n in norms)
        print(f"{name}: {os.path.getsize(path):,} bytes; losses {' '.join(f'{x:.5f}' for x in losses)}\n"
              f"  grad norms (* = clipped at {hp['clip']:g}): {clipped}\n"
              f"  finite differences (2 per tensor): max |error| {fd_abs:.2g}, max relative {fd_rel:.2g}\n"
              f"  float32 vs float64: max relative loss diff {loss_diff:.2g}, max |step-0 grad diff| / max |grad| per "
              f"tensor {grad_diff:.2g}, max |final param diff| {param_diff:.2g}")
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total += os.path.getsize(os.path.join(outdir, "manifest.json"))
    shutil.rmtree(tmp)
    print(f"wrote {len(CASES) + len(MINRNNS_CASES)} cases to {outdir} ({total:,} bytes)")


if __name__ == "__main__":
    main()
