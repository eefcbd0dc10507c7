#!/usr/bin/env node
// Writes tests/corpus/: broken .safetensors files made from a valid small model, each named
// NAME.EXPECTED_CODE.safetensors. The C tests (native under ASan/UBSan, and wasm) and the Node tests load
// every file and require that exact error code, with no crash and no read out of bounds.
//   node tests/helpers/make-corpus.mjs            (re-run when the base model's format changes)
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';

const base = readFileSync(new URL('../fixtures/lm/tiny-gru-d4-l2-conv2.safetensors', import.meta.url));
const out = new URL('../corpus/', import.meta.url);
const headerLength = Number(base.readBigUInt64LE(0));
const header = JSON.parse(base.subarray(8, 8 + headerLength).toString('utf8'));
const data = base.subarray(8 + headerLength);

function file(headerText, body = data) {
  const h = Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, body]);
}

/** The base header changed by fn (which gets a deep copy), as a file. */
function mutate(fn, body = data) {
  const h = structuredClone(header);
  fn(h);
  return file(JSON.stringify(h), body);
}

function rawLength(n, rest = Buffer.alloc(0)) {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(n));
  return Buffer.concat([len, rest]);
}

const text = (s) => Buffer.from(s, 'utf8');
const hex = (s) => Buffer.from(s, 'hex');
// a .pt file as torch.save writes it (PyTorch >= 1.6): a zip archive (version 0, flags 0x0808, no sizes) whose
// first entry, archive/data.pkl, is padded by an extra field "FB" to start at byte 64, then the pickle
const torchZip = Buffer.concat([hex('504b03040000080800000000000000000000000000000000000010001200'), text('archive/data.pklFB'),
  hex('0e00'), text('Z'.repeat(14)), hex('80027d71002e')]);
// a .pt file of the older format: a pickle (protocol 2) that starts with torch's magic number as a LONG1
const torchPickle = hex('80028a0a6cfc9c46f9206aa850192e80024de9032e');

const someTensor = 'layers.0.2.to_hidden_and_gate.weight';
const cases = {
  'empty.MG_EBADFILE': Buffer.alloc(0),
  'seven-bytes.MG_EBADFILE': Buffer.alloc(7),
  'header-length-beyond-file.MG_EBADFILE': rawLength(1000, Buffer.from('{}')),
  'header-length-over-100MB.MG_EBADFILE': rawLength(200 * 2 ** 20, Buffer.alloc(64)),
  'header-length-2^63.MG_EBADFILE': rawLength(2n ** 63n),
  'header-length-1.MG_EBADFILE': rawLength(1, Buffer.from('{')),
  'header-not-json.MG_EBADFILE': file('this is not json at all'),
  'header-is-array.MG_EBADFILE': file('[]'),
  'header-unterminated-string.MG_EBADFILE': file('{"token_emb.weight'),
  'header-bad-escape.MG_EBADFILE': file('{"a\\q": {}}'),
  'header-nul-escape.MG_EBADFILE': file('{"a\\u0000b": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'),
  'header-lone-surrogate.MG_EBADFILE': file('{"a\\udc00": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}'),
  'header-trailing-bytes.MG_EBADFILE': file(JSON.stringify(header) + ' x'),
  'header-unclosed.MG_EBADFILE': file(JSON.stringify(header).slice(0, -1)),
  'truncated-data.MG_EBADFILE': base.subarray(0, 8 + headerLength + Math.floor(data.length / 2)),
  'truncated-header.MG_EBADFILE': base.subarray(0, 8 + Math.floor(headerLength / 2)),
  'offsets-beyond-data.MG_EBADFILE': mutate((h) => { h[someTensor].data_offsets[1] += data.length; h[someTensor].data_offsets[0] += data.length; }),
  'offsets-reversed.MG_EBADFILE': mutate((h) => { h[someTensor].data_offsets.reverse(); }),
  'offsets-negative.MG_EBADFILE': mutate((h) => { h[someTensor].data_offsets[0] = -4; }),
  'offsets-three.MG_EBADFILE': mutate((h) => { h[someTensor].data_offsets.push(9); }),
  'offsets-float.MG_EBADFILE': mutate((h) => { h[someTensor].data_offsets[0] += 0.5; }),
  'offsets-overlap.MG_EBADFILE': mutate((h) => {
    const [b, e] = h['norm.weight'].data_offsets;
    h['layers.0.1.weight'].data_offsets = [b, e];
  }),
  'shape-disagrees-with-offsets.MG_EBADFILE': mutate((h) => { h[someTensor].shape[0] += 1; }),
  'shape-overflows.MG_EBADFILE': mutate((h) => { h[someTensor].shape = [2 ** 40, 2 ** 40, 2 ** 40]; }),
  'shape-negative.MG_EBADFILE': mutate((h) => { h[someTensor].shape[0] = -1; }),
  'shape-not-list.MG_EBADFILE': mutate((h) => { h[someTensor].shape = 7; }),
  'shape-nine-dims.MG_EBADFILE': mutate((h) => { h['norm.weight'].shape = [4, 1, 1, 1, 1, 1, 1, 1, 1]; }),
  'dtype-unknown.MG_EBADFILE': mutate((h) => { h[someTensor].dtype = 'F64'; }),
  'dtype-missing.MG_EBADFILE': mutate((h) => { delete h[someTensor].dtype; }),
  'entry-extra-key.MG_EBADFILE': mutate((h) => { h[someTensor].extra = 1; }),
  'entry-not-object.MG_EBADFILE': mutate((h) => { h[someTensor] = 'F32'; }),
  'tensor-missing.MG_EBADFILE': mutate((h) => { delete h['layers.1.4.2.bias']; }),
  'tensor-extra.MG_EBADFILE': mutate((h) => { h['layers.0.2.bias'] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] }; }),
  'tensor-unknown-name.MG_EBADFILE': mutate((h) => { h['layers.9.1.weight'] = h['norm.weight']; delete h['norm.weight']; }),
  'tensor-wrong-shape.MG_ESHAPE': mutate((h) => { h['norm.weight'].shape = [2, 2]; }),
  'config-dim-mismatch.MG_ESHAPE': mutate((h) => { h.__metadata__.dim = '6'; }),
  'config-depth-too-small.MG_EBADFILE': mutate((h) => { h.__metadata__.depth = '1'; }),
  'config-depth-too-large.MG_EBADFILE': mutate((h) => { h.__metadata__.depth = '3'; }),
  'config-lstm-for-gru.MG_EBADFILE': mutate((h) => { h.__metadata__.cell = 'lstm'; }),
  'config-no-conv.MG_EBADFILE': mutate((h) => { h.__metadata__.conv_kernel_size = '0'; }),
  'meta-missing-dim.MG_EBADFILE': mutate((h) => { delete h.__metadata__.dim; }),
  'meta-dim-not-number.MG_EBADFILE': mutate((h) => { h.__metadata__.dim = 'four'; }),
  'meta-dim-zero.MG_EBADFILE': mutate((h) => { h.__metadata__.dim = '0'; }),
  'meta-dim-huge.MG_EBADFILE': mutate((h) => { h.__metadata__.dim = '99999999999'; }),
  'meta-expansion-nan.MG_EBADFILE': mutate((h) => { h.__metadata__.expansion_factor = 'nan'; }),
  'meta-expansion-negative.MG_EBADFILE': mutate((h) => { h.__metadata__.expansion_factor = '-1.5'; }),
  'meta-value-not-string.MG_EBADFILE': mutate((h) => { h.__metadata__.dim = 4; }),
  'meta-not-object.MG_EBADFILE': mutate((h) => { h.__metadata__ = ['format', 'mingru']; }),
  'meta-format-other.MG_EBADFILE': mutate((h) => { h.__metadata__.format = 'gguf'; }),
  'meta-version-2.MG_EBADFILE': mutate((h) => { h.__metadata__.version = '2'; }),
  'meta-missing.MG_EBADFILE': mutate((h) => { delete h.__metadata__; }),
  'meta-bytes-tokenizer-wrong-vocab.MG_EBADFILE': mutate((h) => { h.__metadata__.num_tokens = '300'; }),
  // a carried tokenizer (docs/format.md): __metadata__ "tokenizer" and the U8 tensor "tokenizer" must agree
  'meta-tokenizer-other.MG_EBADFILE': mutate((h) => { h.__metadata__.tokenizer = 'tiktoken'; }),
  'tokenizer-json-without-tensor.MG_EBADFILE': mutate((h) => { h.__metadata__.tokenizer = 'tokenizer.json'; }),
  'tokenizer-tensor-with-bytes.MG_EBADFILE': mutate((h) => {
    h.tokenizer = { dtype: 'U8', shape: [4], data_offsets: [data.length, data.length + 4] };
  }, Buffer.concat([data, text('{}  ')])),
  'tokenizer-tensor-f32.MG_EBADFILE': mutate((h) => {
    h.__metadata__.tokenizer = 'sentencepiece';
    h.tokenizer = { dtype: 'F32', shape: [1], data_offsets: [data.length, data.length + 4] };
  }, Buffer.concat([data, text('{}  ')])),
  // the BorealisAI/minRNNs form's keys (docs/format.md): bad values, and the tensors they call for missing or left over
  'minrnns-cell-bias-bad.MG_EBADFILE': mutate((h) => { h.__metadata__.cell_bias = '2'; }),
  'minrnns-h0-bad.MG_EBADFILE': mutate((h) => { h.__metadata__.h0 = 'random'; }),
  'minrnns-ff-bad.MG_EBADFILE': mutate((h) => { h.__metadata__.ff = 'swiglu'; }),
  'minrnns-lstm-gates-for-gru.MG_EBADFILE': mutate((h) => { h.__metadata__.lstm_gates = 'sigmoid'; }),
  'minrnns-cell-bias-without-tensor.MG_EBADFILE': mutate((h) => { h.__metadata__.cell_bias = '1'; }),
  'minrnns-h0-without-tensor.MG_EBADFILE': mutate((h) => { h.__metadata__.h0 = 'learned'; }),
  'minrnns-affine-norm-without-bias.MG_EBADFILE': mutate((h) => { h.__metadata__.norm = 'affine'; }),
  'minrnns-ff-none-with-ff-tensors.MG_EBADFILE': mutate((h) => { h.__metadata__.ff = 'none'; }),
  'minrnns-geglu-with-gelu-shapes.MG_ESHAPE': mutate((h) => { h.__metadata__.ff = 'geglu'; }),
  'minrnns-num-outputs-other.MG_ESHAPE': mutate((h) => { h.__metadata__.num_outputs = '7'; }),
  'minrnns-num-outputs-zero.MG_EBADFILE': mutate((h) => { h.__metadata__.num_outputs = '0'; }),
  'q8-without-scale.MG_EBADFILE': mutate((h) => {
    const t = h[someTensor];
    t.dtype = 'I8';
    t.data_offsets[1] = t.data_offsets[0] + t.shape[0] * t.shape[1];
  }),
  'q8-norm.MG_EBADFILE': mutate((h) => {
    const t = h['norm.weight'];
    t.dtype = 'I8';
    t.data_offsets[1] = t.data_offsets[0] + t.shape[0];
  }),
  // files of other formats, as they get passed for a model: the engine says what each looks like
  'foreign-pytorch-zip.MG_EBADFILE': torchZip,
  'foreign-pytorch-pickle.MG_EBADFILE': torchPickle,
  'foreign-gguf.MG_EBADFILE': Buffer.concat([text('GGUF'), hex('030000000000000000000000000000000000000000000000')]),
  // an ONNX ModelProto: ir_version 8, producer_name "pytorch", producer_version "2.1.0", then the graph's key
  'foreign-onnx.MG_EBADFILE': Buffer.concat([hex('08081207'), text('pytorch'), hex('1a05'), text('2.1.0'), hex('3a00')]),
  'foreign-html.MG_EBADFILE': text('<!DOCTYPE html>\n<html lang="en">\n<head><title>404 Not Found</title></head>\n<body>Not Found</body>\n</html>\n'),
  'foreign-html-after-blank-lines.MG_EBADFILE': text('\n\n  <html><body>Sign in to continue</body></html>\n'),
  'foreign-xml.MG_EBADFILE': text('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'),
  'foreign-json.MG_EBADFILE': text('{"error":"Repository not found"}'),
  'foreign-text.MG_EBADFILE': text('In the beginning God created the heaven and the earth.\nAnd the earth was without form, and void.\n'),
  'foreign-text-utf8.MG_EBADFILE': text('Über die Gärten: ein Text, kein Modell — 1. Kapitel\n'),
  'foreign-git-lfs-pointer.MG_EBADFILE': text('version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 3565432\n'),
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
for (const [name, bytes] of Object.entries(cases)) writeFileSync(new URL(`${name}.safetensors`, out), bytes);
console.log(`wrote ${readdirSync(out).length} files to tests/corpus/`);
