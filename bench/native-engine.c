/* native-engine.c — the mingru C engine as a native program, for npm run bench: the same sources as the
 * WebAssembly builds, compiled by bench/bench.mjs with gcc -O3 -march=native -pthread.
 *
 *   mingru-native --model FILE.safetensors --threads N [--prefill 4096] [--prompt 64] [--steps 256] [--runs 3]
 *   mingru-native --model FILE.safetensors --threads N --train STEPS --text FILE [--batch 32] [--seq-len 256]
 *
 * Prints one JSON line (the contract of the programs in bench/peers/): tokens/s of a forward over `prefill` tokens and of
 * `steps` teacher-forced steps after a `prompt`-token forward (medians of `runs`), peak RSS, and the logits
 * after the prompt and after the last step for the cross-engine check. Tokens: t[i] = (i * 7919) % V.
 * With --train: tokens/s of STEPS AdamW steps (lr 3e-4, betas (0.9, 0.95), weight decay 0.01, clip 1) after one
 * untimed step, on the windows of the text (its bytes) that every engine of the bench takes: step s's row b starts
 * at ((s * batch + b) * 7919) % (length - seq_len); and the losses of every step for the cross-engine check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mingru.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *xs, int n) {
    qsort(xs, n, sizeof *xs, cmp);
    return xs[n / 2];
}

static void die(const char *what, int status) {
    fprintf(stderr, "mingru-native: %s: %s (%d)\n", what, mg_last_error() ? mg_last_error() : "", status);
    exit(1);
}

static void print_floats(const char *name, const float *v, int n) {
    printf("\"%s\":[", name);
    for (int i = 0; i < n; i++) printf("%s%.7g", i ? "," : "", v[i]);
    printf("]");
}

/* --train: one untimed step, then `steps` timed ones; prints the JSON line. */
static int train(mg_model *m, int threads, int steps, int batch, int seq_len, const unsigned char *text, long length) {
    int st;
    if (length <= seq_len) die("the text is shorter than seq_len + 1", MG_EINVAL);
    size_t n = (size_t)batch * (seq_len + 1);
    int32_t *tokens = malloc(sizeof *tokens * n);
    float *losses = malloc(sizeof *losses * (steps + 1));
    mg_adamw_params p = mg_adamw_default_params();
    p.lr = 3e-4f, p.beta2 = 0.95f, p.clip = 1.0f;
    mg_trainer *t;
    if ((st = mg_trainer_create(m, &p, &t))) die("trainer", st);
    double t0 = 0;
    for (int s = 0; s <= steps; s++) {
        if (s == 1) t0 = now();
        for (int b = 0; b < batch; b++) {
            long start = (long)(((long long)s * batch + b) * 7919 % (length - seq_len));
            for (int j = 0; j <= seq_len; j++) tokens[(size_t)b * (seq_len + 1) + j] = text[start + j];
        }
        if ((st = mg_trainer_step(t, tokens, batch, seq_len, &losses[s]))) die("train step", st);
    }
    double tps = (double)steps * batch * seq_len / (now() - t0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\":\"native\",\"version\":\"gcc %s -O3 -march=native\",\"threads\":%d,", __VERSION__, threads);
    printf("\"trainTokensPerSecond\":%.3f,\"peakRssBytes\":%ld,", tps, ru.ru_maxrss * 1024L);
    print_floats("losses", losses, steps + 1);
    printf("}\n");
    mg_trainer_free(t);
    free(tokens), free(losses);
    return 0;
}

/* The whole file, malloc'd; exits when it cannot be read. */
static unsigned char *read_file(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc(*size ? *size : 1);
    if (!data || fread(data, 1, *size, f) != (size_t)*size) { fprintf(stderr, "cannot read %s\n", path); exit(1); }
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    const char *path = NULL, *text_path = NULL;
    int threads = 1, prefill = 4096, prompt = 64, steps = 256, runs = 3, train_steps = 0, batch = 32, seq_len = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prefill")) prefill = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--prompt")) prompt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--train")) train_steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--text")) text_path = argv[i + 1];
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seq-len")) seq_len = atoi(argv[i + 1]);
        else { fprintf(stderr, "mingru-native: unknown option %s\n", argv[i]); return 2; }
    }
    if (!path || threads < 1 || prefill < 1 || prompt < 1 || steps < 1 || runs < 1 || runs > 99 || train_steps < 0 ||
        batch < 1 || seq_len < 1 || (train_steps && !text_path)) {
        fprintf(stderr, "usage: mingru-native --model FILE --threads N [--prefill N --prompt N --steps N --runs N]\n"
                        "       mingru-native --model FILE --threads N --train STEPS --text FILE [--batch N --seq-len N]\n");
        return 2;
    }
    long size;
    void *data = read_file(path, &size);

    int st;
    if ((st = mg_set_threads(threads))) die("threads", st);
    mg_model_params params = mg_model_default_params();
    params.take_ownership = 1;
    mg_model *m;
    if ((st = mg_model_load(data, size, &params, &m))) die("load", st);
    if (train_steps) {
        long length;
        unsigned char *text = read_file(text_path, &length);
        st = train(m, threads, train_steps, batch, seq_len, text, length);
        free(text);
        mg_model_free(m);
        return st;
    }
    int V = mg_model_config(m)->num_tokens;
    int n = prefill > prompt + steps ? prefill : prompt + steps;
    int32_t *tokens = malloc(sizeof *tokens * n);
    float *logits = malloc(sizeof *logits * V), *prompt_logits = malloc(sizeof *logits * V);
    for (int i = 0; i < n; i++) tokens[i] = (int32_t)(((long long)i * 7919) % V);
    mg_state *s;
    if ((st = mg_state_create(m, &s))) die("state", st);
    if ((st = mg_lm_forward(m, s, tokens, prefill < 256 ? prefill : 256, logits, 0))) die("warm-up", st);
    for (int i = 0; i < 64; i++) /* and 64 steps, as every engine here warms up */
        if ((st = mg_lm_step(m, s, tokens[i], logits))) die("warm-up", st);

    double prefill_tps[99], step_tps[99];
    for (int r = 0; r < runs; r++) {
        mg_state_reset(s);
        double t0 = now();
        if ((st = mg_lm_forward(m, s, tokens, prefill, logits, 0))) die("forward", st);
        prefill_tps[r] = prefill / (now() - t0);
        mg_state_reset(s);
        if ((st = mg_lm_forward(m, s, tokens, prompt, prompt_logits, 0))) die("prompt", st);
        t0 = now();
        for (int i = 0; i < steps; i++)
            if ((st = mg_lm_step(m, s, tokens[prompt + i], logits))) die("step", st);
        step_tps[r] = steps / (now() - t0);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"engine\":\"native\",\"version\":\"gcc %s -O3 -march=native\",\"threads\":%d,", __VERSION__, threads);
    printf("\"prefillTokensPerSecond\":%.3f,\"stepTokensPerSecond\":%.3f,", median(prefill_tps, runs), median(step_tps, runs));
    printf("\"peakRssBytes\":%ld,\"check\":{", ru.ru_maxrss * 1024L);
    print_floats("promptLogits", prompt_logits, V);
    printf(",");
    print_floats("stepLogits", logits, V);
    printf("}}\n");
    mg_state_free(s);
    mg_model_free(m);
    free(tokens), free(logits), free(prompt_logits);
    return 0;
}
