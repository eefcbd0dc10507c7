// mingru — minGRU and minLSTM on WebAssembly. The public entry point.
//
// In a page's main thread, every class here is a thin client of a dedicated Worker that runs the engine
// (client.js <-> worker.js), so the page never blocks. In Node and inside workers, the classes call the
// engine directly. The API is the same.
import * as client from './client.js';
import * as layer from './layer.js';
import * as model from './model.js';
import * as prediction from './predict.js';
import * as training from './train.js';

const inPage = typeof window !== 'undefined' && typeof document !== 'undefined' && typeof Worker !== 'undefined';

export const load = inPage ? client.load : model.load;
export const create = inPage ? client.create : model.create;
export const Model = inPage ? client.Model : model.Model;
export const State = inPage ? client.State : model.State;
export const Trainer = inPage ? client.Trainer : training.Trainer;
export const Predictor = inPage ? client.Predictor : prediction.Predictor;
export const MinGRU = inPage ? client.MinGRU : layer.MinGRU;
export const MinLSTM = inPage ? client.MinLSTM : layer.MinLSTM;
export { MingruError } from './errors.js';
export { attachPredictor } from './attach.js';
