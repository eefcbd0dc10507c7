#!/usr/bin/python3
"""spm_fixtures.py: the SentencePiece fixtures of the tokenizer tests, made by Google's sentencepiece itself.

Trains a BPE and a Unigram model (vocabulary 2000, byte_fallback on, the default nmt_nfkc normalization) on
verses of the King James Bible (Debian's bible-kjv) that tests/fixtures/tokenizers/lines.json does not hold, and
writes, in tests/fixtures/tokenizers/:
  spm-bpe.model, spm-unigram.model    the models
  spm-expected.json                   sentencepiece's ids and decoded text for 300 held-out lines of lines.json
                                      (edge cases, verses, mixed scripts: many characters it never saw)
  spm-bpe.llama.json                  the BPE model as a Llama-style tokenizer.json, as Hugging Face's
                                      LlamaConverter (legacy) writes it: Prepend + Replace normalizers,
                                      BPE with byte_fallback, merges from SentencePieceExtractor
  spm-unigram.hf.json                 the Unigram model as SpmConverter writes it (T5, ALBERT), with NFKC in place
                                      of its Precompiled normalizer (the charsmap is 300 KB: the test puts in the
                                      model's), Metaspace pre-tokenizer and decoder
Run with Debian's python3-sentencepiece (apt-get install python3-sentencepiece bible-kjv):
  /usr/bin/python3 tools/spm_fixtures.py    (after node tools/tokenizer_lines.mjs)
"""
import json
import os
import subprocess

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'tests', 'fixtures', 'tokenizers')
VERSE_STEP, VERSE_OFFSET = 47, 7  # tools/tokenizer_lines.mjs: the verses the tests hold
HELD_OUT = 300


def training_verses():
    text = subprocess.run(['bible', '-f', 'Gen1:1-Rev22:21'], capture_output=True, text=True, check=True).stdout
    verses = [line.split(' ', 1)[1] for line in text.split('\n') if line]
    return [v for i, v in enumerate(verses) if i % 4 == 0 and i % VERSE_STEP != VERSE_OFFSET]


def read_model(path):
    """The model's pieces and normalizer through sentencepiece's own protobuf module."""
    from sentencepiece import sentencepiece_model_pb2 as pb
    proto = pb.ModelProto()
    with open(path, 'rb') as f:
        proto.ParseFromString(f.read())
    return proto


def llama_json(proto):
    """Hugging Face's LlamaConverter (legacy, add_prefix_space): vocab = the pieces, merges = every split of a
    piece into two pieces, ordered by the piece's id then the parts' ids (SentencePieceExtractor)."""
    vocab = {p.piece: i for i, p in enumerate(proto.pieces)}
    merges = []
    for piece, i in vocab.items():
        local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges += sorted(local, key=lambda lr: (vocab[lr[0]], vocab[lr[1]]))
    special = [dict(id=i, content=p.piece, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
               for i, p in enumerate(proto.pieces) if p.type in (2, 3)]
    return dict(
        version='1.0', truncation=None, padding=None, added_tokens=special,
        normalizer=dict(type='Sequence', normalizers=[dict(type='Prepend', prepend='\u2581'),
                                                      dict(type='Replace', pattern=dict(String=' '), content='\u2581')]),
        pre_tokenizer=None, post_processor=None,
        decoder=dict(type='Sequence', decoders=[dict(type='Replace', pattern=dict(String='\u2581'), content=' '),
                                                dict(type='ByteFallback'), dict(type='Fuse'),
                                                dict(type='Strip', content=' ', start=1, stop=0)]),
        model=dict(type='BPE', dropout=None, unk_token='<unk>', continuing_subword_prefix=None,
                   end_of_word_suffix=None, fuse_unk=True, byte_fallback=True, ignore_merges=False,
                   vocab=vocab, merges=[f'{l} {r}' for l, r in merges]))


def unigram_json(proto):
    """Hugging Face's SpmConverter for a Unigram model (T5, ALBERT), NFKC for its Precompiled normalizer."""
    metaspace = dict(replacement='\u2581', prepend_scheme='always', split=True)
    special = [dict(id=i, content=p.piece, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
               for i, p in enumerate(proto.pieces) if p.type in (2, 3)]
    return dict(
        version='1.0', truncation=None, padding=None, added_tokens=special,
        normalizer=dict(type='Sequence', normalizers=[
            dict(type='NFKC'),
            dict(type='Replace', pattern=dict(Regex=' {2,}'), content=' ')]),
        pre_tokenizer=dict(type='Metaspace', **metaspace), post_processor=None,
        decoder=dict(type='Metaspace', **metaspace),
        model=dict(type='Unigram', unk_id=proto.trainer_spec.unk_id, byte_fallback=False,
                   vocab=[[p.piece, p.score] for p in proto.pieces]))


def main():
    with open(os.path.join(OUT, 'lines.json'), encoding='utf-8') as f:
        lines = json.load(f)
    # the edge cases, then verses and mixed lines from the two halves of the file
    held_out = lines[:HELD_OUT // 4] + lines[len(lines) // 3:][:HELD_OUT // 4] + lines[-HELD_OUT // 2:]
    expected = {'lines': held_out}
    corpus = training_verses()[:8000]
    for kind in ('bpe', 'unigram'):
        path = os.path.join(OUT, f'spm-{kind}.model')
        with open(path, 'wb') as model:  # from an iterator, so that no file name lands in the model
            spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, vocab_size=2000,
                                           model_type=kind, byte_fallback=True, num_threads=1, minloglevel=2)
        sp = spm.SentencePieceProcessor(model_file=path)
        ids = [sp.encode(line) for line in held_out]
        expected[kind] = {'ids': ids, 'decoded': [sp.decode(i) for i in ids]}
    with open(os.path.join(OUT, 'spm-expected.json'), 'w', encoding='utf-8') as f:
        json.dump(expected, f, ensure_ascii=False, separators=(',', ':'))
    with open(os.path.join(OUT, 'spm-bpe.llama.json'), 'w', encoding='utf-8') as f:
        json.dump(llama_json(read_model(os.path.join(OUT, 'spm-bpe.model'))), f, ensure_ascii=False)
    with open(os.path.join(OUT, 'spm-unigram.hf.json'), 'w', encoding='utf-8') as f:
        json.dump(unigram_json(read_model(os.path.join(OUT, 'spm-unigram.model'))), f, ensure_ascii=False)


if __name__ == '__main__':
    main()
