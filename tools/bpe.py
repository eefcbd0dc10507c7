"""A small encoder for Hugging Face tokenizer.json files with a BPE model, for tools/train.py (no PyPI here, and
Debian has no `tokenizers`). The engine's own tokenizer is in js/; this one only has to turn training text into
the same ids.

    tok = BPE.from_file("tokenizer.json"); ids = tok.encode(text); tok.decode(ids) == text (for these families)

Supports the two BPE families the engine reads:
  - ByteLevel (GPT-2, GPT-NeoX, RoBERTa): GPT-2's pre-tokenizer regex with \\p{L}/\\p{N} (Debian's python3-regex),
    add_prefix_space, or a Split(Regex) pre-tokenizer before it (behaviour Isolated); bytes through GPT-2's
    bytes-to-unicode map;
  - Metaspace + byte_fallback (Llama / SentencePiece-BPE): the Prepend / Replace normalizers or a Metaspace
    pre-tokenizer (prepend_scheme always/first/never), unknown characters as <0xNN> byte tokens;
and for both: normalizers NFC, NFKC, Prepend, Replace (string patterns), Sequence; merges as "a b" strings or
[a, b] pairs; ignore_merges; added tokens matched in the raw text, longest first, before normalization (their
lstrip, rstrip and single_word flags are not applied). Not supported (refused by name): other models (Unigram,
WordPiece), other normalizers and pre-tokenizers, Replace with a Regex pattern.
"""
import json
import unicodedata

try:
    import regex  # Debian's python3-regex: Python's re has no \p{L}
except ImportError:  # only ByteLevel and Split need it
    regex = None

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SPACE = "\u2581"  # ▁, SentencePiece's word boundary


def bytes_to_unicode():
    """GPT-2's map from each byte to a printable character (printable Latin-1 bytes map to themselves)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class BPE:
    def __init__(self, spec):
        model = spec["model"]
        if model.get("type", "BPE") != "BPE":
            raise ValueError(f"tokenizer.json model {model.get('type')!r}: only BPE is supported here")
        self.vocab = dict(model["vocab"])
        self.added = {t["content"]: t["id"] for t in spec.get("added_tokens") or []}
        self.num_tokens = max(list(self.vocab.values()) + list(self.added.values())) + 1
        self.id_to_token = {i: t for t, i in {**self.vocab, **self.added}.items()}
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.byte_fallback = bool(model.get("byte_fallback"))
        self.ignore_merges = bool(model.get("ignore_merges"))
        self.unk = self.vocab.get(model["unk_token"]) if model.get("unk_token") else None
        self.normalizers = self._flatten(spec.get("normalizer"), "normalizer")
        self.pre = self._flatten(spec.get("pre_tokenizer"), "pre_tokenizer")
        for n in self.normalizers:
            if n["type"] not in ("NFC", "NFKC", "Prepend", "Replace"):
                raise ValueError(f"tokenizer.json normalizer {n['type']!r} is not supported here")
            if n["type"] == "Replace" and "String" not in n["pattern"]:
                raise ValueError("tokenizer.json Replace normalizer with a Regex pattern is not supported here")
        for p in self.pre:
            if p["type"] not in ("ByteLevel", "Metaspace", "Split"):
                raise ValueError(f"tokenizer.json pre_tokenizer {p['type']!r} is not supported here")
            if p["type"] in ("ByteLevel", "Split") and regex is None:
                raise ValueError(f"tokenizer.json pre_tokenizer {p['type']} needs the regex module (Debian: python3-regex)")
        self.byte_level = any(p["type"] == "ByteLevel" for p in self.pre)
        self.byte_map = bytes_to_unicode()
        self.unbyte = {c: b for b, c in self.byte_map.items()}
        self.added_re = None
        if self.added:
            import re
            self.added_re = re.compile("|".join(re.escape(t) for t in sorted(self.added, key=len, reverse=True)))
        self.cache = {}

    @staticmethod
    def _flatten(node, what):
        if not node:
            return []
        if node["type"] == "Sequence":
            return [x for n in node[what + "s"] for x in BPE._flatten(n, what)]
        return [node]

    @classmethod
    def from_file(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def _normalize(self, s):
        for n in self.normalizers:
            if n["type"] in ("NFC", "NFKC"):
                s = unicodedata.normalize(n["type"], s)
            elif n["type"] == "Prepend":
                s = n["prepend"] + s if s else s
            else:
                s = s.replace(n["pattern"]["String"], n["content"])
        return s

    def _pre_tokenize(self, s, first):
        """The words of one normalized piece of text, in the vocabulary's alphabet."""
        words = [s]
        for p in self.pre:
            out = []
            for w in words:
                if p["type"] == "Split":
                    if p.get("behavior", "Isolated") != "Isolated" or p.get("invert"):
                        raise ValueError("tokenizer.json Split pre_tokenizer: only behavior Isolated is supported here")
                    pat = p["pattern"].get("Regex") or regex.escape(p["pattern"]["String"])
                    out += self._isolate(pat, w)
                elif p["type"] == "ByteLevel":
                    if p.get("add_prefix_space") and not w.startswith(" "):
                        w = " " + w
                    pieces = regex.findall(GPT2_PATTERN, w) if p.get("use_regex", True) else [w]
                    out += ["".join(self.byte_map[b] for b in x.encode("utf-8")) for x in pieces]
                else:  # Metaspace: spaces become ▁, each word starts at a ▁
                    rep = p.get("replacement", SPACE)
                    scheme = p.get("prepend_scheme", "always" if p.get("add_prefix_space", True) else "never")
                    w = w.replace(" ", rep)
                    if (scheme == "always" or (scheme == "first" and first)) and not w.startswith(rep):
                        w = rep + w
                    if p.get("split", True):
                        parts = w.split(rep)
                        out += [x for x in ([parts[0]] + [rep + x for x in parts[1:]]) if x]
                    else:
                        out.append(w)
            words = out
        return [w for w in words if w]

    @staticmethod
    def _isolate(pattern, s):
        out, at = [], 0
        for m in regex.finditer(pattern, s):
            if m.start() > at:
                out.append(s[at:m.start()])
            if m.end() > m.start():
                out.append(m.group())
            at = m.end()
        return out + ([s[at:]] if at < len(s) else [])

    def _bpe(self, word):
        """Ids of one word: merge the adjacent pair of lowest rank until none is in the merges."""
        if word in self.cache:
            return self.cache[word]
        if self.ignore_merges and word in self.vocab:  # Llama 3's files: a word in the vocabulary is one token
            return [self.vocab[word]]
        parts = list(word)
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: self.ranks.get((parts[i], parts[i + 1]), float("inf")))
            if (parts[best], parts[best + 1]) not in self.ranks:
                break
            pair = (parts[best], parts[best + 1])
            merged, i = [], 0
            while i < len(parts):  # merge every occurrence of the pair, left to right
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        ids = []
        for p in parts:
            if p in self.vocab:
                ids.append(self.vocab[p])
            elif self.byte_fallback and all(f"<0x{b:02X}>" in self.vocab for b in p.encode("utf-8")):
                ids += [self.vocab[f"<0x{b:02X}>"] for b in p.encode("utf-8")]
            elif self.unk is not None:
                ids.append(self.unk)
            else:
                raise ValueError(f"{p!r} is not in the vocabulary and the tokenizer has no byte fallback or unk token")
        if len(self.cache) < 1 << 20:
            self.cache[word] = ids
        return ids

    def encode(self, text):
        """Token ids of text: added tokens first, then each piece between them normalized, pre-tokenized and merged."""
        ids, at, first = [], 0, True
        for m in (self.added_re.finditer(text) if self.added_re else ()):
            ids += self._encode_piece(text[at:m.start()], first)
            ids.append(self.added[m.group()])
            at, first = m.end(), False
        return ids + self._encode_piece(text[at:], first)

    def _encode_piece(self, s, first):
        if not s:
            return []
        return [i for w in self._pre_tokenize(self._normalize(s), first) for i in self._bpe(w)]

    def token_bytes(self, i):
        """The bytes token i stands for in decoded text (▁ as a space; <0xNN> as that byte)."""
        t = self.id_to_token[i]
        if i in self.added.values() and t not in self.vocab:
            return t.encode("utf-8")
        if self.byte_level:
            return bytes(self.unbyte[c] for c in t) if all(c in self.unbyte for c in t) else t.encode("utf-8")
        if self.byte_fallback and len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            return bytes([int(t[3:5], 16)])
        return t.replace(SPACE, " ").encode("utf-8")

    def decode(self, ids):
        """Text of ids; Metaspace files lose the one space their prepend added at the start."""
        data = b"".join(self.token_bytes(i) for i in ids)
        text = data.decode("utf-8", errors="replace")
        prepends = any(n["type"] == "Prepend" for n in self.normalizers) or any(
            p["type"] == "Metaspace" and p.get("prepend_scheme", "always") != "never" for p in self.pre)
        return text[1:] if prepends and text.startswith(" ") else text
