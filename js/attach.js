// attach.js — attachPredictor(field, lm, options): predictive text on a <textarea>, a text <input> or a
// contenteditable element, through lm.predictor() (docs/api.md, "Predictive text"). No framework: the best suggestion
// shows as grey ghost text after the caret (Tab or → at the end of a line accepts it, Esc dismisses it), the
// alternatives as buttons below the field (for touch), nothing is predicted during IME composition, and every call
// to the model is asynchronous (in a page the engine runs in its worker), so typing never waits for it.
import { fail } from './errors.js';

const STYLE = `
.mingru-ghost-layer { position: absolute; pointer-events: none; overflow: hidden; color: transparent; z-index: 1;
  box-sizing: border-box; border-color: transparent !important; background: transparent !important; }
.mingru-ghost { color: #9aa0a6; white-space: pre-wrap; }
.mingru-alternatives { display: flex; flex-wrap: wrap; gap: 0.4rem; margin: 0.3rem 0; min-height: 2rem; }
.mingru-alternatives button { font: inherit; padding: 0.2rem 0.7rem; border-radius: 1rem; border: 1px solid #c8ccd0;
  background: #f4f5f6; color: inherit; cursor: pointer; }
.mingru-alternatives button:first-child { border-color: #8a9099; }
`;
// what the ghost layer copies from the field, so that its text wraps where the field's does
const COPIED = ['font', 'letterSpacing', 'wordSpacing', 'lineHeight', 'textTransform', 'textIndent', 'textAlign',
  'direction', 'tabSize', 'paddingTop', 'paddingRight', 'paddingBottom', 'paddingLeft', 'borderTopWidth',
  'borderRightWidth', 'borderBottomWidth', 'borderLeftWidth', 'borderStyle', 'whiteSpace', 'overflowWrap', 'wordBreak'];

/**
 * Predictive text on `field` with the model `lm`. Options: lm.predictor's (count, until, maxTokens, minChars, budget);
 * alternatives: true (buttons after the field, the default), false, or an element to put them in; onSuggestions
 * (called with each new list, also sent as a 'mingru-suggestions' event on the field). Returns a handle:
 * { predictor, suggestions, accept(i = 0), dismiss(), refresh(), detach() }.
 */
export function attachPredictor(field, lm, options = {}) {
  const { alternatives = true, onSuggestions, ...predictorOptions } = options ?? {};
  if (typeof document === 'undefined') fail('MG_EINVAL', 'attachPredictor: it needs a page (a DOM); in Node use lm.predictor()');
  const plain = field instanceof HTMLTextAreaElement || (field instanceof HTMLInputElement && /^(text|search|)$/.test(field.type));
  if (!plain && !field?.isContentEditable) fail('MG_EINVAL', 'attachPredictor: the field must be a <textarea>, a text <input> or a contenteditable element');
  if (onSuggestions !== undefined && typeof onSuggestions !== 'function') fail('MG_EINVAL', 'attachPredictor: onSuggestions must be a function');
  const predictor = lm.predictor(predictorOptions);
  const doc = field.ownerDocument;
  if (!doc.getElementById('mingru-predictor-style')) {
    doc.head.append(Object.assign(doc.createElement('style'), { id: 'mingru-predictor-style', textContent: STYLE }));
  }
  const layer = doc.createElement('div'), ghost = doc.createElement('span');
  layer.className = 'mingru-ghost-layer';
  layer.setAttribute('aria-hidden', 'true');
  ghost.className = 'mingru-ghost';
  layer.hidden = true;
  doc.body.append(layer);
  const bar = alternatives === true ? doc.createElement('div') : alternatives || null;
  if (bar) {
    bar.classList.add('mingru-alternatives');
    bar.setAttribute('role', 'group');
    bar.setAttribute('aria-label', 'Suggestions');
    if (alternatives === true) field.insertAdjacentElement('afterend', bar);
  }

  let list = []; // the suggestions on show
  let asked = 0; // each request's number: an answer to an older one is dropped
  let composing = false;
  let detached = false;

  /** The text before the caret, or null while text is selected. */
  function before() {
    if (plain) return field.selectionStart === field.selectionEnd ? field.value.slice(0, field.selectionStart) : null;
    const sel = doc.getSelection();
    if (!sel.rangeCount || !sel.isCollapsed || !field.contains(sel.anchorNode)) return null;
    const range = doc.createRange();
    range.selectNodeContents(field);
    range.setEnd(sel.anchorNode, sel.anchorOffset);
    return range.toString();
  }

  /** Whether the caret is at the end of its line (where → has nowhere to go but the suggestion). */
  function atLineEnd() {
    if (plain) return field.selectionEnd === field.value.length || field.value[field.selectionEnd] === '\n';
    const sel = doc.getSelection();
    if (!sel.rangeCount || !field.contains(sel.focusNode)) return false;
    const range = doc.createRange();
    range.selectNodeContents(field);
    range.setStart(sel.focusNode, sel.focusOffset);
    const after = range.toString();
    return after === '' || after[0] === '\n';
  }

  function show(next) {
    list = next;
    // the ghost where it does not cover text: at the end of a line
    const best = composing || !list.length || !atLineEnd() ? '' : list[0].text;
    ghost.textContent = best;
    layer.hidden = !best;
    if (best) place();
    if (bar) {
      bar.replaceChildren(...list.map((s, i) => {
        const b = doc.createElement('button');
        b.type = 'button';
        b.textContent = s.text.replace(/\n/g, '⏎');
        b.title = `${(s.probability * 100).toPrecision(2)}%`;
        b.addEventListener('pointerdown', (e) => e.preventDefault()); // the field keeps the focus (and its caret)
        b.addEventListener('click', () => accept(i));
        return b;
      }));
    }
    onSuggestions?.(list);
    field.dispatchEvent(new CustomEvent('mingru-suggestions', { detail: list }));
  }

  /** Puts the ghost text where the caret is: a layer over the field whose text up to the caret is invisible. */
  function place() {
    const box = field.getBoundingClientRect(), view = doc.defaultView;
    Object.assign(layer.style, { left: `${box.left + view.scrollX}px`, top: `${box.top + view.scrollY}px`, width: `${box.width}px`, height: `${box.height}px` });
    const style = view.getComputedStyle(field);
    for (const p of COPIED) layer.style[p] = style[p];
    if (plain) {
      if (field instanceof HTMLTextAreaElement) Object.assign(layer.style, { whiteSpace: 'pre-wrap', overflowWrap: 'break-word' });
      else Object.assign(layer.style, { whiteSpace: 'pre' });
      layer.replaceChildren(doc.createTextNode(field.value.slice(0, field.selectionStart)), ghost);
      layer.scrollTop = field.scrollTop;
      layer.scrollLeft = field.scrollLeft;
      return;
    }
    // contenteditable: the ghost starts at the caret's own box
    const sel = doc.getSelection(), range = sel.getRangeAt(0).cloneRange();
    const rect = [...range.getClientRects()].at(-1) ?? range.getBoundingClientRect();
    const x = rect.width || rect.height ? rect.right : box.left + parseFloat(style.paddingLeft);
    const y = rect.width || rect.height ? rect.top : box.top + parseFloat(style.paddingTop);
    Object.assign(layer.style, { left: `${x + view.scrollX}px`, top: `${y + view.scrollY}px`, width: `${Math.max(40, box.right - x)}px`,
      height: 'auto', padding: '0', borderWidth: '0' });
    layer.replaceChildren(ghost);
  }

  /** Asks for the suggestions after the text before the caret; only the latest answer is shown. */
  async function refresh() {
    const text = before();
    const mine = ++asked;
    if (composing || text === null) return show([]);
    try {
      await predictor.set(text);
      const next = await predictor.suggestions();
      if (mine === asked && !detached) show(next);
    } catch (e) {
      if (e?.code !== 'MG_EABORTED' && !detached) throw e;
    }
  }
  const update = () => void refresh().catch((e) => console.error('mingru: predictive text:', e));

  function insert(text) {
    field.focus();
    // execCommand keeps the browser's undo; where it is gone, the text goes in by hand and an input event says so
    if (doc.queryCommandSupported?.('insertText') && doc.execCommand('insertText', false, text)) return;
    if (plain) field.setRangeText(text, field.selectionStart, field.selectionEnd, 'end');
    else {
      const range = doc.getSelection().getRangeAt(0), node = doc.createTextNode(text);
      range.deleteContents();
      range.insertNode(node);
      range.setStartAfter(node);
      doc.getSelection().removeAllRanges();
      doc.getSelection().addRange(range);
    }
    field.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: text }));
  }

  /** Puts suggestion i into the field at the caret. */
  function accept(i = 0) {
    const s = list[i];
    if (!s) return false;
    show([]);
    insert(s.text);
    return true;
  }

  function dismiss() {
    asked++;
    show([]);
  }

  const on = {
    input: () => update(),
    keydown: (e) => {
      if (e.isComposing || !list.length) return;
      if ((e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) || (e.key === 'ArrowRight' && !e.shiftKey && atLineEnd())) {
        e.preventDefault();
        accept(0);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        dismiss();
      }
    },
    compositionstart: () => {
      composing = true;
      dismiss();
    },
    compositionend: () => {
      composing = false;
      update();
    },
    blur: () => (layer.hidden = true),
    focus: () => update(),
    scroll: () => list.length && place(),
    click: () => update(), // the caret moved
  };
  const onKeyUp = (e) => ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End', 'PageUp', 'PageDown'].includes(e.key) && update();
  const onResize = () => list.length && place();
  for (const [type, fn] of Object.entries(on)) field.addEventListener(type, fn);
  field.addEventListener('keyup', onKeyUp);
  doc.defaultView.addEventListener('resize', onResize);
  if (doc.activeElement === field) update();

  return {
    predictor,
    get suggestions() {
      return list;
    },
    accept,
    dismiss,
    refresh,
    /** Takes everything away again (the predictor is disposed; the model is not). */
    detach() {
      detached = true;
      asked++;
      for (const [type, fn] of Object.entries(on)) field.removeEventListener(type, fn);
      field.removeEventListener('keyup', onKeyUp);
      doc.defaultView.removeEventListener('resize', onResize);
      layer.remove();
      if (alternatives === true) bar.remove();
      else bar?.replaceChildren();
      predictor.dispose();
    },
  };
}
