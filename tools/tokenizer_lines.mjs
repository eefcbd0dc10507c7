#!/usr/bin/env node
// tokenizer_lines.mjs — writes tests/fixtures/tokenizers/lines.json, the texts the tokenizer tests encode: verses of
// the King James Bible (Debian's bible-kjv: `bible -f Gen1:1-Rev22:21`, every 47th from the 8th: tools/spm_fixtures.py
// trains on others), handwritten edge cases, and lines from a seeded generator of mixed scripts, code, numbers,
// whitespace runs, emoji and contractions.
//   node tools/tokenizer_lines.mjs
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export const VERSE_STEP = 47;
export const VERSE_OFFSET = 7;

const EDGE_CASES = [
  '', ' ', '  ', '\n', '\r\n', '\t', 'a', ' a', 'a ', '  a  b   c    ',
  "It's, it'S, they're, we've, I'm, you'll, she'd, don't, can't — ’s ’t",
  "'s't're've'm'll'd 'S 'T 'RE", "rock 'n' roll '' ''' 's",
  'line one\r\nline two\r\n\r\nline four\n', 'tabs\t\tand\tspaces  \t  mixed',
  '    def f(x):\n        return x ** 2  # square\n', 'if (a && b || !c) { x += 1; } else { y -= 2; }',
  'const re = /^[a-z]+$/i; // regex', '<div class="x">&amp;</div>', 'SELECT * FROM t WHERE id = 42;',
  '3.14159 2.71828 1e-10 -0.0 +42 1,000,000 0xFF 0b1010 12345678901234567890',
  '2024-12-07T00:00:00Z 10:30pm $19.99 €5 £3 ¥100 ₹50 50% #1 @user',
  '👨‍👩‍👧‍👦 👩🏽‍💻 🏳️‍🌈 🇫🇷🇯🇵 ❤️ 👍🏿 🧑‍🤝‍🧑 😀😃😄',
  '日本語のテキストです。中文文本。한국어 텍스트입니다.', '漢字かなカナ混じり文、句読点！？',
  'مرحبا بالعالم، كيف حالك؟ ١٢٣', 'שלום עולם! מה שלומך?', 'English with עברית and العربية mixed in.',
  'Привет, мир! Ελληνικά κείμενο. हिन्दी पाठ। ภาษาไทย', 'e\u0301 a\u0308 n\u0303 (combining) vs é ä ñ',
  'ﬁ ﬂ ｆｕｌｌｗｉｄｔｈ ① ½ ™ Ⅻ', 'zero\u200bwidth\u200cjoin\u200dnon\u2060', 'nbsp\u00a0here\u2003em\u3000ideo',
  'nel\u0085here bom\ufeffhere', 'a \u0085b x \ufeffy \ufeff \u0085 \u2028z', 'control\u0001\u0007\u007fchars', 'surrogate 𝐀𝐁𝐂 𝔘𝔫𝔦 𠀀𠀁',
  '<|endoftext|>', 'before<|endoftext|>after', ' <|endoftext|> spaced <|endoftext|>', '<|endoftext|><|endoftext|>',
  '<|endoftext', 'endoftext|>', '<|endoftext|>\n', 'ALL CAPS WORDS AND lower', 'MiXeD cAsE wOrDs',
  '!!!???...,,,;;;:::', '---___===+++***', '"quoted" \'single\' `back` «guillemets» „low“',
  '            ', '\n\n\n\n', ' \n \n ', 'a\n\nb\n\n\nc', 'trailing spaces   ', '   leading spaces',
  'word'.repeat(50), 'x'.repeat(300), '🙂'.repeat(40), '1'.repeat(100), ' '.repeat(100) + 'end',
];

/** mulberry32: a small seeded generator, so the lines are the same on every run. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const POOLS = [
  'the of and to in is that it was for on are with as his they be at one have this from'.split(' '),
  ["it's", "don't", "we're", "they've", "I'm", "you'll", "he'd", "O'Neil", "'tis", "y'all", "IT'S", "WE'LL"],
  ['x', 'y_1', 'fooBar', 'snake_case', '()', '{}', '[]', '=>', '==', '!=', '+=', '::', '->', '/*', '*/', '//', ';', 'i++'],
  ['0', '7', '42', '3.14', '1000000', '-1', '2e10', '0x1F', '99%', '1/2', '١٢٣', '४२', '三'],
  [' ', '  ', '   ', '\t', '\n', '\r\n', '\n\n', ' \n', '\u00a0', '\u3000'],
  ['😀', '👍🏽', '👨‍👩‍👧', '🏳️‍🌈', '🇩🇪', '❤️', '✨', '🤖', '👩‍🚀', '🧑🏾‍🤝‍🧑🏻'],
  ['日本', '中文', '한국어', 'テキスト', 'の', '是', '가', '漢字', '。', '、'],
  ['مرحبا', 'العالم', 'كتاب', 'שלום', 'עולם', 'ספר', '،', '؟'],
  ['Привет', 'мир', 'Ελλάδα', 'नमस्ते', 'ไทย', 'Ąžuolas', 'Straße', 'façade', 'ﬁ', 'Ⅻ'],
  ['.', ',', '!', '?', ':', ';', '"', "'", '(', ')', '-', '—', '…', '«', '»'],
];

/** `count` lines of 1..30 pieces from random pools, joined by a space or nothing. */
export function mixedLines(count, seed = 37) {
  const rand = random(seed);
  const pick = (a) => a[Math.floor(rand() * a.length)];
  const lines = [];
  for (let i = 0; i < count; i++) {
    let line = '';
    for (let n = 1 + Math.floor(rand() * 30); n > 0; n--) line += pick(pick(POOLS)) + (rand() < 0.6 ? ' ' : '');
    lines.push(line);
  }
  return lines;
}

/** Every VERSE_STEP-th verse of the KJV from VERSE_OFFSET, without its reference ("Ge1:1 "). */
export function verses() {
  const text = execFileSync('bible', ['-f', 'Gen1:1-Rev22:21'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const all = text.split('\n').filter(Boolean).map((l) => l.replace(/^\S+ /, ''));
  return all.filter((_, i) => i % VERSE_STEP === VERSE_OFFSET);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const lines = [...EDGE_CASES, ...verses(), ...mixedLines(1300)];
  const out = new URL('../tests/fixtures/tokenizers/lines.json', import.meta.url);
  writeFileSync(out, JSON.stringify(lines, null, 0).replace(/","/g, '",\n"') + '\n');
  console.log(`${lines.length} lines`);
}
