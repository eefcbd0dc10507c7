"""Small tokenizer files for tests/js/train-ddp.test.mjs, made from TEXT, and a check of tools/bpe.py.

    /usr/bin/python3 tests/helpers/tokenizer_files.py TEXT OUTDIR

Writes OUTDIR/sp.model (a SentencePiece BPE model trained by Debian's python3-sentencepiece, byte_fallback on,
vocabulary 700) and OUTDIR/gpt2.json (a GPT-2-style ByteLevel tokenizer.json: the 256 byte symbols, 64 merges
learned from TEXT by counting pairs, and an added token). Then checks tools/bpe.py on TEXT's lines and a few
harder ones: on a Llama-style tokenizer.json made from a SentencePiece BPE model (identity normalization, as
Llama's) it gives SentencePiece's own ids; on gpt2.json its merges by lowest rank give the ids that applying each
merge in rank order gives (the two textbook forms of BPE agree); decode(encode(line)) == line for both.
Prints a JSON summary.
"""
import collections
import json
import os
import sys

import regex
import sentencepiece

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from bpe import BPE, GPT2_PATTERN, bytes_to_unicode  # noqa: E402

EXTRA = ["  runs   of spaces\t\tand\r\nCRLF", "emoji 👩‍👩‍👧 and 日本語", "mixed <|endoftext|> special", "x=3.14159;//"]


def gpt2_file(text, merges=64):
    """A ByteLevel tokenizer.json whose merges are the most frequent pairs of TEXT's words, learned greedily."""
    m = bytes_to_unicode()
    words = collections.Counter("".join(m[b] for b in w.encode("utf-8")) for w in regex.findall(GPT2_PATTERN, text))
    words = {tuple(w): n for w, n in words.items()}
    vocab = {m[b]: i for i, b in enumerate(sorted(m))}
    learned = []
    for _ in range(merges):
        pairs = collections.Counter()
        for w, n in words.items():
            for pair in zip(w, w[1:]):
                pairs[pair] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        learned.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
        merged = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        words = merged
    return {"version": "1.0", "normalizer": None,
            "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "special": True}],
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "vocab": vocab, "merges": learned}}


def llama_file(sp):
    """A Llama-style tokenizer.json (Prepend and Replace normalizers, byte_fallback) from a SentencePiece BPE model,
    its merges recovered from the vocabulary as Hugging Face's converter does: every split of a piece into two
    pieces, ranked by the merged piece's score."""
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    merges = []
    for piece, i in vocab.items():
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges += [(sp.get_score(i), vocab[a], vocab[b], f"{a} {b}") for a, b in splits]
    merges.sort(key=lambda m: (-m[0], m[1], m[2]))
    return {"version": "1.0",
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
            "pre_tokenizer": None,
            "model": {"type": "BPE", "vocab": vocab, "merges": [m[3] for m in merges], "byte_fallback": True,
                      "unk_token": "<unk>", "fuse_unk": True}}


def in_rank_order(tok, spec, word):
    """BPE the other way: each merge, in rank order, applied to the whole word."""
    parts = list(word)
    for merge in spec["model"]["merges"]:
        a, b = merge.split(" ")
        out, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(parts[i])
                i += 1
        parts = out
    return [tok.vocab[p] for p in parts]


def main():
    text_path, out = sys.argv[1], sys.argv[2]
    text = open(text_path, encoding="utf-8").read()
    sentencepiece.SentencePieceTrainer.train(input=text_path, model_prefix=os.path.join(out, "sp"), vocab_size=700,
                                             model_type="bpe", byte_fallback=True, minloglevel=2)
    # Llama's settings: no normalization, spaces kept as they are
    sentencepiece.SentencePieceTrainer.train(input=text_path, model_prefix=os.path.join(out, "llama"), vocab_size=700,
                                             model_type="bpe", byte_fallback=True, normalization_rule_name="identity",
                                             remove_extra_whitespaces=False, minloglevel=2)
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(out, "llama.model"))
    llama = BPE(llama_file(sp))
    lines = [line for line in text.splitlines() if line] + EXTRA
    for line in lines:
        ids = llama.encode(line)
        assert ids == sp.encode(line), f"{line!r}: {ids} but SentencePiece gives {sp.encode(line)}"
        assert llama.decode(ids) == line, f"decode(encode({line!r})) = {llama.decode(ids)!r}"
    spec = gpt2_file(text)
    with open(os.path.join(out, "gpt2.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    tok = BPE.from_file(os.path.join(out, "gpt2.json"))
    checked = 0
    for line in lines:
        ids = tok.encode(line)
        assert tok.decode(ids) == line, f"decode(encode({line!r})) = {tok.decode(ids)!r}"
        for piece in regex.split("(<\\|endoftext\\|>)", line):
            if piece == "<|endoftext|>":
                continue
            for w in regex.findall(GPT2_PATTERN, piece):
                word = "".join(tok.byte_map[b] for b in w.encode("utf-8"))
                assert tok._bpe(word) == in_rank_order(tok, spec, word), f"{w!r}: merges by rank differ"
                checked += 1
    assert tok.encode("a<|endoftext|>b")[1] == spec["added_tokens"][0]["id"]
    print(json.dumps({"lines": len(lines), "words": checked, "llama_num_tokens": llama.num_tokens, "num_tokens": tok.num_tokens,
                      "merges": len(spec["model"]["merges"])}))


if __name__ == "__main__":
    main()
