// keystrokes.mjs — the typing simulation of bench/predict.mjs, shared by Node and its page (bench/predict.html).
// The text is typed character by character. At every character of a word (a run of letters, digits and apostrophes;
// any character beyond ASCII counts as a letter) the user asks for suggestions; when one completes the word exactly,
// they accept it with one keystroke and the word is done; otherwise they type one character. Spaces and punctuation
// cost one keystroke each.

const WORD = /[\p{L}\p{N}'\u0080-\uffff]/u; // the predictor's word characters (a code point beyond ASCII is one)
export const isWord = (c) => WORD.test(c);
export const WORDS = /[\p{L}\p{N}'\u0080-\uffff]+/gu;

/** Keystrokes to type `text` when suggest(typed prefix of the word) offers completions (awaited at every character of
 * a word, before it is typed); type(text) is told what was typed or accepted. */
export async function simulate(text, suggest, type) {
  let keystrokes = 0;
  for (let i = 0; i < text.length; ) {
    if (!isWord(text[i])) {
      await type(text[i++]);
      keystrokes++;
      continue;
    }
    let end = i;
    while (end < text.length && isWord(text[end])) end++;
    const word = text.slice(i, end);
    for (let typed = 0; typed < word.length; ) {
      keystrokes++;
      const rest = word.slice(typed);
      if ((await suggest(word.slice(0, typed))).includes(rest)) {
        await type(rest);
        break;
      }
      await type(word[typed++]);
    }
    i = end;
  }
  return keystrokes;
}

/** The predictor's run: keystrokes, and the time from each input() to the next suggestions() resolved (ms). */
export async function withPredictor(predictor, text) {
  const times = [];
  let started = performance.now();
  const keystrokes = await simulate(text, async () => {
    const s = await predictor.suggestions();
    times.push(performance.now() - started); // since the last input()
    return s.map((x) => x.text);
  }, async (typed) => {
    started = performance.now();
    await predictor.input(typed);
  });
  return { keystrokes, times };
}
