// The demo's "Type" panel: predictive text on a textarea (attachPredictor, js/attach.js) from the page's model, the
// one Teach it fine-tunes: after a run the panel follows the taught model.
import { attachPredictor } from '../js/index.js';

const $ = (id) => document.getElementById(id);

export function setupType() {
  const field = $('type-text'), alternatives = $('type-alternatives');
  let attached = null;
  return {
    /** Suggestions from `lm` from now on (null: none, while no model is loaded). */
    use(lm) {
      attached?.detach();
      attached = lm ? attachPredictor(field, lm, { count: 3, until: 'word', alternatives }) : null;
      field.disabled = !lm;
    },
  };
}
