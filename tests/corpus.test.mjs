// Every broken file of tests/corpus/ (NAME.EXPECTED_CODE.safetensors) is refused by load() with its code.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { load } from '../js/index.js';

const dir = new URL('./corpus/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));

test('the corpus holds at least 40 broken files', () => assert.ok(files.length >= 40, `${files.length}`));

for (const file of files) {
  const code = file.split('.')[1];
  test(`${file} is refused with ${code}`, async () => {
    await assert.rejects(load(new Uint8Array(readFileSync(new URL(file, dir)))), (e) => {
      assert.equal(e.code, code, e.message);
      assert.ok(e.message.length > 10);
      return true;
    });
  });
}
