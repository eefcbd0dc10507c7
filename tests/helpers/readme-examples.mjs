// The README's code blocks, for the tests that run them (readme.test.mjs, package.test.mjs). An example is a
// fenced block right after a line `<!-- example: NAME -->`; the tests run each by its name.
import { readFileSync } from 'node:fs';

export const README = new URL('../../README.md', import.meta.url);

/** Every fenced block: { lang, name (the example's, or null), code, line (1-based, of the fence) }. */
export function readmeBlocks(text = readFileSync(README, 'utf8')) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const marker = before >= 0 ? /^<!-- example: (\S+) -->$/.exec(lines[before].trim()) : null;
    blocks.push({ lang: open[1], name: marker?.[1] ?? null, code: lines.slice(i + 1, end).join('\n') + '\n', line: i + 1 });
    i = end;
  }
  return blocks;
}

/** The code of the example NAME (throws if the README has none, or several). */
export function readmeExample(name) {
  const found = readmeBlocks().filter((b) => b.name === name);
  if (found.length !== 1) throw new Error(`README.md has ${found.length} examples named ${name}`);
  return found[0].code;
}

/** The commands of a shell example, one a line (comments and blank lines dropped), as argument arrays.
 * Arguments are split on spaces, with "double quotes" grouping; nothing else of the shell is understood. */
export function shellCommands(code) {
  return code.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => [...l.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]));
}
