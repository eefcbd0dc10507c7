// errors.js — the one error type of the package: an Error with a `code` naming the class of problem.
//   MG_EINVAL    an argument is invalid (wrong type, wrong length, non-positive size, unknown option)
//   MG_ENOMEM    the engine ran out of memory
//   MG_ESHAPE    sizes do not fit together, or are too large
//   MG_EDISPOSED the object was used after dispose()
//   MG_ELOAD     the WebAssembly build could not be loaded

export class MingruError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'MingruError';
    this.code = code;
  }
}

export function fail(code, message) {
  throw new MingruError(code, message);
}

// Also used:
//   MG_EBADFILE  a model or state file is corrupt, truncated or of another format
//   MG_ERANGE    a token id is outside [0, numTokens)
//   MG_EMISMATCH a state belongs to another model
//   MG_EBUSY     the state is in use by a running generate()
//   MG_EABORTED  the operation was aborted through its AbortSignal
//   MG_ETHREADS  threads were asked for where SharedArrayBuffer is not available
