// Type declarations of the mingru package (the public API of js/index.js).

/** The engine's error: `code` names the class of problem, the message names the argument or tensor. */
export class MingruError extends Error {
  readonly code:
    | 'MG_EINVAL' | 'MG_ENOMEM' | 'MG_ESHAPE' | 'MG_EBADFILE' | 'MG_ERANGE' | 'MG_EMISMATCH'
    | 'MG_EDISPOSED' | 'MG_ELOAD' | 'MG_EBUSY' | 'MG_EABORTED' | 'MG_ETHREADS' | 'MG_EWORKER' | string;
  constructor(code: string, message: string, options?: { cause?: unknown });
}

/** Which build runs a layer or model. */
export interface Backend {
  readonly threads: number;
  readonly simd: boolean;
  /** the relaxed-SIMD build runs (see LoadOptions.relaxedSimd) */
  readonly relaxedSimd: boolean;
  /** for each thing this environment lacks, what runs instead and why, e.g.
   * 'threads: SharedArrayBuffer is not defined; one thread runs' (detected, never assumed); empty when nothing is missing */
  readonly fallbacks: readonly string[];
}

/** A model's backend: the build, and what load()'s warm-up did (LoadOptions.warm). */
export interface ModelBackend extends Backend {
  /** the threads a step runs on (one token: step(), generate, the compressor's steps): `threads`, or 1 where the
   * warm-up measured the pool less than 1.1x faster than one thread for this model's steps (its worst turn against
   * one thread's best); the same results either way */
  readonly stepThreads: number;
  /** null when not warmed (warm: false, create()); else ms: the time it added to load(), settled: whether the
   * model's passes had stopped getting faster before its limit (85 ms), stepUs: the measured time of a step on one
   * thread (the best of three turns) and on the pool (the worst of three), in microseconds (null on one thread) */
  readonly warm: null | {
    readonly ms: number;
    readonly settled: boolean;
    readonly stepUs: null | { readonly oneThread: number; readonly pool: number };
  };
}

export type Threads = 'auto' | number;
export type Kernel = 'auto' | 'reference' | 'simd';

export interface LayerResult {
  /** [batch, seqLen, dim] (forward) or [batch, dim] (step) */
  output: Float32Array;
  /** [batch, dimInner]: the last hidden state, before to_out */
  hidden: Float32Array;
}

interface LayerOptions<W> {
  dim: number;
  /** dimInner = floor(dim * expansionFactor); the layer has to_out iff expansionFactor != 1. Default 1. */
  expansionFactor?: number;
  /** minGRU-pytorch's weights, row-major; without them the layer initialises like nn.Linear from `seed`. */
  weights?: W;
  seed?: number;
  threads?: Threads;
  kernel?: Kernel;
}

declare class Layer {
  readonly cell: 'MinGRU' | 'MinLSTM';
  readonly dim: number;
  readonly dimInner: number;
  readonly expansionFactor: number;
  readonly backend: Backend;
  /** x: [batch, seqLen, dim]; seqLen defaults to x.length / (batch * dim). */
  forward(x: Float32Array, options?: { batch?: number; seqLen?: number; prevHidden?: Float32Array }): Promise<LayerResult>;
  /** x: [batch, dim]. */
  step(x: Float32Array, options?: { batch?: number; prevHidden?: Float32Array }): Promise<LayerResult>;
  dispose(): void;
}

export class MinGRU extends Layer {
  static create(options: LayerOptions<{ toHiddenAndGate: Float32Array; toOut?: Float32Array }>): Promise<MinGRU>;
  getWeights(): Promise<{ toHiddenAndGate: Float32Array; toOut?: Float32Array }>;
}

export class MinLSTM extends Layer {
  static create(options: LayerOptions<{ toHiddenAndFIGate: Float32Array; toOut?: Float32Array }>): Promise<MinLSTM>;
  getWeights(): Promise<{ toHiddenAndFIGate: Float32Array; toOut?: Float32Array }>;
}

export interface ModelConfig {
  readonly cell: 'gru' | 'lstm';
  readonly numTokens: number;
  readonly dim: number;
  readonly depth: number;
  readonly expansionFactor: number;
  readonly dimInner: number;
  readonly ffMult: number;
  readonly ffInner: number;
  /** 0 = no convolution */
  readonly convKernelSize: number;
  /** the model's tokenizer as a file's metadata names it (docs/format.md): the file's, or load()'s tokenizer option's;
   * 'none' without one (lm.tokenizer.kind says which algorithm) */
  readonly tokenizer: 'bytes' | 'tokenizer.json' | 'sentencepiece' | 'none';
  /** its vocabulary size (256 for bytes, 0 for none); at most numTokens */
  readonly tokenizerVocabSize: number;
  readonly quantized: boolean;
  readonly parameters: number;
  /** the logits' size: numTokens, or a BorealisAI/minRNNs task model's d_out */
  readonly numOutputs: number;
  /** 'minlm' (minGRU-pytorch) or 'minrnns' (BorealisAI/minRNNs: the features below) */
  readonly form: 'minlm' | 'minrnns';
  readonly cellBias: boolean;
  readonly h0: 'zeros' | 'learned';
  readonly lstmGates: 'normalized' | 'sigmoid';
  readonly norm: 'rms' | 'affine';
  readonly ff: 'gelu' | 'geglu' | 'none';
  readonly name?: string;
  readonly description?: string;
  readonly license?: string;
  readonly trainingData?: string;
}

/** What evaluate() measured: `tokens` predicted, their total `bits` (-log2 of the probabilities). */
export interface Evaluation {
  tokens: number;
  bits: number;
  bitsPerToken: number;
  bitsPerByte: number | null;
}

/** A sequence's recurrent state; its size does not depend on the sequence's length. */
export class State {
  /** Tokens consumed since creation or reset. In a page, as the worker last reported it: right after
   * loadState() undefined until the worker has read the bytes. */
  readonly tokens: number;
  busy: boolean;
  clone(): State;
  reset(): void;
  /** A few KB, tagged with the model's identity. */
  save(): Promise<Uint8Array>;
  dispose(): void;
}

export type Tokens = ArrayLike<number>;

export interface GenerateOptions {
  maxTokens?: number;
  /** 0 = greedy */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  penaltyWindow?: number;
  seed?: number;
  /** aborting ends the iteration; the model and the state stay usable */
  signal?: AbortSignal;
  /** continue this sequence; it is left after the generated text */
  state?: State;
  /** generation ends before the first of these, which is not emitted */
  stop?: string | string[];
}

/** Learning while reading (dynamic evaluation): after each `segment` tokens have been predicted, one AdamW step on
 * them. Defaults: compress.js's ADAPT_DEFAULTS (docs/compress.md). */
export interface AdaptOptions {
  /** default 48 with part 'top', 128 with part 'all' */
  segment?: number;
  betas?: [number, number];
  eps?: number;
  /** default 0 */
  weightDecay?: number;
  /** default 0 (no clipping) with part 'top', 1 with part 'all' */
  clip?: number;
  /** default 2.5e-4 with part 'top', 1e-4 with part 'all' */
  lr?: number;
  /** what learns: 'top' (default: the last layer's feed-forward and its norm, the final norm and the head; a Q8
   * model stays Q8) or 'all' (every weight, in F32: 3 to 4 times slower for a little more gain; docs/compress.md).
   * compress learns the top from the rows its own steps computed, with the whole text before them as context */
  part?: 'all' | 'top';
  /** evaluate only: the model keeps what it learned (default false: its weights are left as they were) */
  keep?: boolean;
}

export interface CodingProgress {
  done: number;
  total: number;
}

export interface EvaluateOptions {
  state?: State;
  signal?: AbortSignal;
  /** learn while reading (no `state` then) */
  adapt?: boolean | AdaptOptions;
  onProgress?: (p: CodingProgress) => void;
}

export interface CompressOptions {
  /** default true */
  adapt?: boolean | Omit<AdaptOptions, 'keep'>;
  /** bytes known before the data, which decompress must be given too (a dictionary): the match models remember all of it, the model reads (and learns from) its last 4,096 */
  prime?: Uint8Array | ArrayBuffer | string;
  signal?: AbortSignal;
  onProgress?: (p: CodingProgress) => void;
}

export class Model {
  readonly config: ModelConfig;
  readonly metadata: Readonly<Record<string, string>>;
  /** a hash of the file's bytes, in hex */
  readonly identity: string;
  readonly backend: ModelBackend;
  createState(): State;
  loadState(bytes: Uint8Array): State;
  /** logits [numTokens] of the last token, or [n, numTokens] with allLogits; an abort through `signal` rejects
   * with MG_EABORTED and leaves the state as it was */
  /** The bits the model needs for `data` (text, or token ids), each token predicted from those before it: from an
   * empty state the first token is context only (n - 1 predictions); with a state that has read tokens, every token
   * is predicted from it and the state is left after them. bitsPerByte: the bits over the UTF-8 bytes predicted (null without a tokenizer). */
  evaluate(data: string | Tokens, options?: EvaluateOptions): Promise<Evaluation>;
  forward(tokens: Tokens, options?: { state?: State; allLogits?: boolean; signal?: AbortSignal }): Promise<Float32Array>;
  step(token: number, options?: { state?: State }): Promise<Float32Array>;
  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<string, void, void>;
  /** torch.optim.AdamW after clip_grad_norm_; the weights become F32 training weights (Q8/F16 made F32) */
  trainer(options?: TrainerOptions): Trainer;
  /** predictive text: a Predictor that follows a text as it is typed and suggests its most likely continuations (the
   * search runs in the engine); MG_EINVAL for bad options, a model without a tokenizer or a task model */
  predictor(options?: PredictorOptions): Predictor;
  /** trains on random windows of `data` drawn with `seed`: one progress object per step; an abort ends the
   * iteration and the model keeps what it learned */
  train(data: string | Tokens, options: TrainOptions): AsyncGenerator<TrainProgress, void, void>;
  /** the model with its current weights as a .safetensors file (docs/format.md), loadable by load() and PyTorch; a
   * model that learned since it was loaded records base_model, training_steps and trained_on in its metadata */
  save(options?: SaveOptions): Promise<Uint8Array>;
  /** `data` arithmetic-coded with the model's probabilities, learning while it reads (adapt, default true); the file
   * (docs/format.md) names the model, the settings, the length and a CRC-32; random data is stored. With a tokenizer
   * other than the byte-level one it codes the tokenizer's ids: the data must be UTF-8 text that decode(encode(text))
   * gives back unchanged (MG_EINVAL otherwise) */
  compress(data: Uint8Array | ArrayBuffer | string, options?: CompressOptions): Promise<Uint8Array>;
  /** the bytes of a compress() file, with the same model file, in any engine, build or thread count; MG_EMISMATCH
   * for another model's file (or tokenizer's), MG_EBADFILE for a damaged one */
  decompress(file: Uint8Array, options?: { prime?: Uint8Array | ArrayBuffer | string; signal?: AbortSignal; onProgress?: (p: CodingProgress) => void }): Promise<Uint8Array>;
  /** the text as the tokenizer's ids (bytes: Uint8Array; up to 65,536 tokens: Uint16Array; else Uint32Array) */
  encode(text: string): Uint8Array | Uint16Array | Uint32Array;
  decode(tokens: Tokens): string;
  /** the tokenizer of encode, decode, generate, evaluate and train on text; null for a model without one */
  readonly tokenizer: Tokenizer | null;
  dispose(): void;
}

export interface TrainerOptions {
  /** default 1e-3 */
  lr?: number;
  /** default [0.9, 0.999] */
  betas?: [number, number];
  /** default 1e-8 */
  eps?: number;
  /** decoupled, on every parameter; default 0.01 */
  weightDecay?: number;
  /** clip_grad_norm_'s max norm; 0 = none; default 1 */
  clip?: number;
  /** while training, each element of every layer's output is zeroed with this probability, the rest scaled by
   * 1 / (1 - dropout) (nn.Dropout after each layer); in [0, 1), default 0 */
  dropout?: number;
  /** the dropout masks' seed (the same seed, the same masks); default 0 */
  seed?: number;
  /** what learns: 'all' (default), or 'top': the last layer's feed-forward and its norm, the final norm and the
   * head, the rest frozen as loaded and the backward pass stopping below the top; a Q8 model stays Q8 (the top
   * learns as F32 masters, quantized again after each step) */
  part?: 'all' | 'top';
}

export class Trainer {
  /** AdamW steps taken */
  readonly steps: number;
  /** the learning rate of the next steps (Node and workers; set it between steps for a schedule) */
  lr: number;
  /** `tokens`: batch rows of seqLen + 1 ids; returns the batch's mean cross-entropy (nats) before the update */
  step(tokens: Tokens, options: { batch: number; seqLen: number; signal?: AbortSignal }): Promise<number>;
  dispose(): void;
}

export interface PredictorOptions {
  /** suggestions wanted, 1 to 16; default 3 */
  count?: number;
  /** where a suggestion ends: 'word' (default: the rest of the word being typed, or after a space the next word),
   * 'line' (before a newline or after '.', '!' or '?'), or a number of tokens */
  until?: 'word' | 'line' | number;
  /** no suggestion is longer (one still open there ends there), 1 to 64; default 24 */
  maxTokens?: number;
  /** shorter suggestions are left out, 0 to 8; default 2 for 'word' (a word's last letter alone saves no keystroke),
   * else 1 */
  minChars?: number;
  /** the most tokens the search steps (its time: each is a step of the model), 1 to 1024; default 0: the engine's (40).
   * Within it the suggestions are the exact most likely continuations, else the best found */
  budget?: number;
  /** with until 'word': words the text has used are likelier again (0.6 the model's probability + 0.4 a cache of the
   * text's finished words, above all those that followed the last word before; docs/api.md); default true */
  cache?: boolean;
}

export interface Suggestion {
  /** what would follow the text (the typed part of the last word left out) */
  text: string;
  /** the model's probability of it (the product of its tokens', summed over the ways to end it), mixed with the
   * cache's (PredictorOptions.cache) where it applies */
  probability: number;
}

export class Predictor {
  /** appends typed text: the state reads only the new tokens */
  input(text: string): Promise<void>;
  /** removes the last n characters (code points; default 1), back from a kept state, never from the start */
  delete(n?: number): Promise<void>;
  /** a new text: only what follows its longest common prefix with the last is read */
  set(text: string): Promise<void>;
  /** the `count` most likely distinct continuations, most likely first; [] when nothing has been read yet, and for a
   * call that an input(), delete(), set() or dispose() overtook (the pending call is cancelled so) */
  suggestions(): Promise<Suggestion[]>;
  dispose(): void;
}

export interface AttachOptions extends PredictorOptions {
  /** the alternatives as buttons (for touch): true (after the field; default), false, or an element to put them in */
  alternatives?: boolean | HTMLElement;
  /** called with each new list of suggestions (also sent as a 'mingru-suggestions' CustomEvent on the field) */
  onSuggestions?: (suggestions: Suggestion[]) => void;
}

export interface AttachedPredictor {
  readonly predictor: Predictor;
  /** the suggestions on show */
  readonly suggestions: Suggestion[];
  /** puts suggestion i (default 0) into the field at the caret; false if there is none */
  accept(i?: number): boolean;
  /** hides the suggestions until the next keystroke */
  dismiss(): void;
  /** asks again for the text before the caret */
  refresh(): Promise<void>;
  /** removes the ghost text, the buttons and the listeners, and disposes the predictor (not the model) */
  detach(): void;
}

/** Predictive text on a <textarea>, a text <input> or a contenteditable element: the best suggestion as ghost text
 * after the caret (Tab or → at the end of a line accepts it, Esc dismisses it), the alternatives as buttons, nothing
 * during IME composition (docs/api.md, "Predictive text"). In a page only; MG_EINVAL for another element. */
export function attachPredictor(field: HTMLTextAreaElement | HTMLInputElement | HTMLElement, lm: Model, options?: AttachOptions): AttachedPredictor;

export interface TrainOptions extends TrainerOptions {
  /** how long: a number of steps, or seconds (one of them is needed) */
  steps?: number;
  seconds?: number;
  /** windows per step, default 8 */
  batchSize?: number;
  /** tokens per window (plus one target), default 128 */
  seqLen?: number;
  /** steps of linear learning-rate warmup, default 0 */
  warmup?: number;
  /** the windows drawn and the dropout masks; default 0 */
  seed?: number;
  /** text or ids scored (bits per token) every validationEvery steps (default 50) and at the last step */
  validation?: string | Tokens;
  validationEvery?: number;
  signal?: AbortSignal;
}

export interface TrainProgress {
  step: number;
  /** mean cross-entropy of the step's batch, in nats, before its update */
  loss: number;
  tokensPerSecond: number;
  validationBits?: number;
}

export interface SaveOptions {
  /** default 'f32' */
  dtype?: 'f32' | 'f16' | 'q8';
  name?: string;
  description?: string;
  license?: string;
  trainingData?: string;
}

export interface CreateOptions {
  /** default 'gru' */
  cell?: 'gru' | 'lstm';
  /** default 256 (the bytes tokenizer) */
  numTokens?: number;
  /** defaults: dim 256, depth 4, expansionFactor 1.5, ffMult 4, convKernelSize 0 (none), seed 0 */
  dim?: number;
  depth?: number;
  expansionFactor?: number;
  ffMult?: number;
  convKernelSize?: number;
  seed?: number;
  threads?: Threads;
  kernel?: Kernel;
}

/** A new model initialised as PyTorch initialises minLM, from `seed`. */
export function create(options?: CreateOptions): Promise<Model>;

export interface LoadOptions {
  threads?: Threads;
  /** called as bytes arrive; total is null when the server does not say; a cache hit reports once, loaded = total */
  onProgress?: (progress: { loaded: number; total: number | null }) => void;
  signal?: AbortSignal;
  /** fetch()'s options for a URL source, e.g. { headers: { Authorization: 'Bearer ...' } } (its signal is load's) */
  fetchOptions?: RequestInit;
  /** keep an http(s) download in the Cache API (cache 'mingru') and read it from there next time; ignored for
   * other sources and where there is no Cache API (Node, pages that are not a secure context). Default false. */
  cache?: boolean;
  kernel?: Kernel;
  /** take the relaxed-SIMD build (an 8-bit dot product for Q8 weights) where the engine runs it correctly (a
   * known-answer probe: Chrome/Edge 114+, Firefox 146+); false forces the plain SIMD build. Default true. */
  relaxedSimd?: boolean;
  /** run the model's passes a while before load() resolves (about 0.1 s), so that the first call runs the
   * engine's optimized code, and measure where its steps are faster (backend.stepThreads, backend.warm); false skips
   * both. Default true. */
  warm?: boolean;
  /** the tokenizer for a file that has none (or to replace its own): a URL or path of a Hugging Face tokenizer.json or
   * a SentencePiece .model, their bytes, or a tokenizer.json's parsed object; its vocabulary must fit numTokens */
  tokenizer?: string | URL | ArrayBuffer | ArrayBufferView | Blob | object;
}

/** A model's tokenizer: the byte-level one, or a tokenizer.json's / SentencePiece model's (docs/tokenizers.md). */
export interface Tokenizer {
  readonly kind: 'bytes' | 'bpe-bytelevel' | 'bpe-metaspace' | 'unigram';
  readonly format: 'bytes' | 'tokenizer.json' | 'sentencepiece';
  readonly vocabSize: number;
  encode(text: string): Uint8Array | Uint16Array | Uint32Array;
  decode(tokens: Tokens): string;
  /** a streaming decoder: push(id) returns the text now complete (never half a character), flush() the rest */
  decoder(): { push(id: number): string; flush(): string };
}

/** A model from a .safetensors file made by tools/convert.py: a path (Node), URL, bytes, Response or Blob. */
export function load(source: string | URL | ArrayBuffer | ArrayBufferView | Response | Blob, options?: LoadOptions): Promise<Model>;
