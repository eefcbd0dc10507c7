// Under MINGRU_TEST_BUILD=safe (scripts/test-safe.mjs, part of npm test) the tests run on the checked builds of
// dist-safe/ (-sASSERTIONS=2 -sSAFE_HEAP=1). This checks that they really are the ones loaded: a read outside
// the heap traps there, where the shipped build would return whatever the memory holds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getEngine } from '../../js/runtime.js';

const SAFE = process.env.MINGRU_TEST_BUILD === 'safe';

for (const threads of [1, 2]) {
  test(`the checked build (${threads === 1 ? 'single thread' : 'threads'}) traps a read outside the heap`, { skip: !SAFE && 'only with MINGRU_TEST_BUILD=safe' }, async () => {
    const engine = await getEngine(threads);
    const beyond = engine.heapStats().size - 4096; // inside the memory, above everything malloc handed out
    assert.ok(beyond > engine.heapStats().used);
    assert.throws(() => engine.stateTokens(beyond), /segmentation fault/); // a state handle that points there
  });
}
