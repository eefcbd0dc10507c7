// Every broken file of tests/corpus/ (NAME.EXPECTED_CODE.safetensors, made by make-corpus.mjs) is refused by load()
// with its code and a message that names what make-corpus.mjs broke: the field, the tensor or the format.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load } from '../../js/index.js';

const dir = new URL('../corpus/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));

// NAME -> what its message must name (the tensor, key or format that make-corpus.mjs changed)
const NAMES = {
  'config-depth-too-large': /layers\.2\..* is missing/,
  'config-depth-too-small': /layers\.1\..* is not part of a minGRU model/,
  'config-dim-mismatch': /token_emb\.weight has shape \[256, 4\], the config needs \[256, 6\]/,
  'config-lstm-for-gru': /to_hidden_and_f_i_gate\.weight is missing/,
  'config-no-conv': /layers\.0\.0\.net\.0\.\w+ is not part of a minGRU model/,
  'dtype-missing': /to_hidden_and_gate\.weight: missing dtype/,
  'dtype-unknown': /layers\.0\.2\.to_hidden_and_gate\.weight: unsupported dtype F64/,
  'empty': /the file is 0 bytes/,
  'entry-extra-key': /layers\.0\.2\.to_hidden_and_gate\.weight: unexpected or repeated key "extra"/,
  'entry-not-object': /layers\.0\.2\.to_hidden_and_gate\.weight: its entry is not a JSON object/,
  'foreign-gguf': /looks like a GGUF model/,
  'foreign-git-lfs-pointer': /looks like a Git LFS pointer.*git lfs pull/,
  'foreign-html-after-blank-lines': /looks like an HTML or XML page/,
  'foreign-html': /looks like an HTML or XML page/,
  'foreign-json': /looks like a JSON file/,
  'foreign-onnx': /looks like an ONNX model/,
  'foreign-text': /the file is text \(it begins "In the beginning God created the heaven \.\.\."\), not a model: a model is a \.safetensors file/,
  'foreign-text-utf8': /the file is text \(it begins "Über die Gärten: ein Text, kein Modell\.\.\."\), not a model/,
  'foreign-pytorch-pickle': /looks like a Python pickle.*tools\/convert\.py/,
  'foreign-pytorch-zip': /looks like a zip archive.*tools\/convert\.py/,
  'foreign-xml': /looks like an HTML or XML page/,
  'header-bad-escape': /malformed name/,
  'header-is-array': /header is not a JSON object/,
  'header-length-1': /header length 1 does not fit/,
  'header-length-2^63': /header length 9223372036854775808 is over the 100 MB limit/,
  'header-length-beyond-file': /header length 1000 does not fit in the 10-byte file/,
  'header-length-over-100MB': /header length 209715200 is over the 100 MB limit/,
  'header-lone-surrogate': /malformed name/,
  'header-not-json': /header is not a JSON object/,
  'header-nul-escape': /malformed name/,
  'header-trailing-bytes': /bytes after its JSON object/,
  'header-unclosed': /JSON object is malformed or not closed/,
  'header-unterminated-string': /malformed name/,
  'meta-bytes-tokenizer-wrong-vocab': /tokenizer "bytes" needs num_tokens 256, the file says 300/,
  'meta-tokenizer-other': /"tokenizer" is "tiktoken", not one of "none", "bytes", "tokenizer\.json", "sentencepiece"/,
  'tokenizer-json-without-tensor': /"tokenizer" is "tokenizer\.json" but the file has no tensor tokenizer/,
  'tokenizer-tensor-with-bytes': /the file has a tensor tokenizer but __metadata__ "tokenizer" is "bytes"/,
  'tokenizer-tensor-f32': /tensor tokenizer \(__metadata__ "tokenizer" "sentencepiece"\) must be U8 of shape \[n\]/,
  'meta-dim-huge': /"dim" is "99999999999", not an integer/,
  'meta-dim-not-number': /"dim" is "four", not an integer/,
  'meta-dim-zero': /"dim" is "0", not an integer/,
  'meta-expansion-nan': /"expansion_factor" is "nan"/,
  'meta-expansion-negative': /"expansion_factor" is "-1\.5"/,
  'meta-format-other': /"format" is "gguf", not "mingru"/,
  'meta-missing-dim': /__metadata__ lacks "dim"/,
  'meta-missing': /__metadata__ lacks "format"/,
  'meta-not-object': /__metadata__ is not a JSON object/,
  'meta-value-not-string': /"dim": the value is not a string/,
  'meta-version-2': /"version" is "2", not "1"/,
  'offsets-beyond-data': /to_hidden_and_gate\.weight: data_offsets \[13952, 14144\] outside the 9712 bytes/,
  'offsets-float': /layers\.0\.2\.to_hidden_and_gate\.weight: data_offsets is not a list of two non-negative integers/,
  'offsets-negative': /layers\.0\.2\.to_hidden_and_gate\.weight: data_offsets is not a list of two non-negative integers/,
  'offsets-overlap': /layers\.0\.1\.weight and norm\.weight overlap/,
  'offsets-reversed': /data_offsets \[4432, 4240\] outside/,
  'offsets-three': /layers\.0\.2\.to_hidden_and_gate\.weight: data_offsets is not a list of two/,
  'q8-norm': /norm\.weight is I8, which is only allowed for matrices/,
  'minrnns-affine-norm-without-bias': /tensor layers\.0\.1\.bias is missing/,
  'minrnns-cell-bias-bad': /"cell_bias" is "2", not one of "0", "1"/,
  'minrnns-cell-bias-without-tensor': /tensor layers\.0\.2\.to_hidden_and_gate\.bias is missing/,
  'minrnns-ff-bad': /"ff" is "swiglu", not one of "gelu", "geglu", "none"/,
  'minrnns-ff-none-with-ff-tensors': /tensor layers\.0\.3\.weight is not part of a minGRU model of this config/,
  'minrnns-geglu-with-gelu-shapes': /tensor layers\.0\.4\.0\.weight has shape \[8, 4\], the config needs \[16, 4\]/,
  'minrnns-h0-bad': /"h0" is "random", not one of "zeros", "learned"/,
  'minrnns-h0-without-tensor': /tensor layers\.0\.2\.init_hidden_state is missing/,
  'minrnns-lstm-gates-for-gru': /"lstm_gates" is for minLSTM cells, not minGRU/,
  'minrnns-num-outputs-other': /tensor to_logits\.weight has shape \[256, 4\], the config needs \[7, 4\]/,
  'minrnns-num-outputs-zero': /"num_outputs" is "0", not an integer in \[1, 16777216\]/,
  'q8-without-scale': /to_hidden_and_gate\.weight\.scale is missing/,
  'seven-bytes': /the file is 7 bytes/,
  'shape-disagrees-with-offsets': /layers\.0\.2\.to_hidden_and_gate\.weight: data_offsets span 192 bytes but its shape needs 208/,
  'shape-negative': /layers\.0\.2\.to_hidden_and_gate\.weight: shape holds something other than non-negative integers/,
  'shape-nine-dims': /norm\.weight: more than 8 dimensions/,
  'shape-not-list': /layers\.0\.2\.to_hidden_and_gate\.weight: shape is not a list/,
  'shape-overflows': /shape overflows/,
  'tensor-extra': /layers\.0\.2\.bias is not part of a minGRU model/,
  'tensor-missing': /layers\.1\.4\.2\.bias is missing/,
  'tensor-unknown-name': /norm\.weight is missing/,
  'tensor-wrong-shape': /norm\.weight has shape \[2, 2\], the config needs \[4\]/,
  'truncated-data': /data_offsets .* outside the 4856 bytes of data/,
  'truncated-header': /header length 2424 does not fit in the 1220-byte file/,
};

test('every corpus file has an expected message, and every expectation a file', () => {
  assert.deepEqual(files.map((f) => f.split('.')[0]).sort(), Object.keys(NAMES).sort());
});

for (const file of files) {
  const code = file.split('.')[1];
  test(`${file} is refused with ${code}`, async () => {
    await assert.rejects(load(new Uint8Array(readFileSync(new URL(file, dir)))), (e) => {
      assert.equal(e.code, code, e.message);
      assert.match(e.message, /^load: /);
      assert.match(e.message, NAMES[file.split('.')[0]]);
      return true;
    });
  });
}
