// mingru — minGRU and minLSTM on WebAssembly. The public entry point.
export { MinGRU, MinLSTM } from './layer.js';
export { load, Model, State } from './model.js';
export { MingruError } from './errors.js';
