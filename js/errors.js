// errors.js — the one error type of the package: an Error with a `code` naming the class of problem.
//   MG_EINVAL    an argument is invalid (wrong type, wrong length, non-positive size, unknown option)
//   MG_ENOMEM    the engine ran out of memory
//   MG_ESHAPE    sizes do not fit together, or are too large
//   MG_EDISPOSED the object was used after dispose()
//   MG_ELOAD     the WebAssembly build could not be loaded

export class MingruError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'MingruError';
    this.code = code;
  }
}

export function fail(code, message) {
  throw new MingruError(code, message);
}
