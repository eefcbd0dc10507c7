/* Model files that carry their tokenizer (docs/format.md): the fixtures of tests/fixtures/vocab (tools/tokenizer_fixtures.py)
 * load with the tokenizer's kind, give PyTorch's logits on the tokenizer's ids to 1e-4, hand back the embedded bytes
 * exactly, and save() writes them back byte for byte; the metadata and the "tokenizer" tensor must agree, the tensor
 * must be U8 [n], and U8 serves nothing else. */
#include "check.h"
#include "internal.h"
#include "safetensors.h"

static unsigned char *fixture(const char *dir, const char *name, size_t *size) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/%s/%s", dir, name);
    return read_file(path, size);
}

static void check_fixture(const char *stem, int kind, const char *tokenizer_path, int dtype) {
    char name[128];
    size_t size, esize, tsize = 0;
    snprintf(name, sizeof name, "%s.safetensors", stem);
    unsigned char *file = fixture("vocab", name, &size);
    snprintf(name, sizeof name, "%s.expected.bin", stem);
    unsigned char *exp = fixture("vocab", name, &esize);
    unsigned char *tok = tokenizer_path ? read_file(tokenizer_path, &tsize) : NULL;
    mg_model *m;
    REQUIRE(file && exp && esize > 16 && !memcmp(exp, "MGLMEXP1", 8), "%s: fixture files missing", stem);
    REQUIRE(mg_model_load(file, size, NULL, &m) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(mg_model_config(m)->tokenizer == kind, "%s: tokenizer kind %d, expected %d", stem, mg_model_config(m)->tokenizer, kind);

    /* the embedded bytes: the file's last bytes, and the tokenizer file itself when it is at hand */
    const uint8_t *bytes;
    size_t n;
    CHECK(mg_model_tokenizer(m, &bytes, &n) == MG_OK && bytes && n > 0 && n < size, "%s: no tokenizer", stem);
    CHECK(bytes == file + size - n, "%s: the tokenizer is not the file's last %zu bytes", stem, n);
    if (tok) CHECK(n == tsize && !memcmp(bytes, tok, n), "%s: the embedded bytes differ from %s", stem, tokenizer_path);
    if (kind == MG_TOKENIZER_JSON) CHECK(bytes[0] == '{', "%s: a tokenizer.json starts with {", stem);

    /* PyTorch's logits on the tokenizer's ids */
    uint32_t T, V;
    memcpy(&T, exp + 8, 4), memcpy(&V, exp + 12, 4);
    CHECK(mg_model_config(m)->num_tokens == (int)V, "%s: vocabulary", stem);
    int32_t *ids = malloc(T * 4);
    float *want = malloc((size_t)T * V * 4), *got = malloc((size_t)T * V * 4);
    memcpy(ids, exp + 16, T * 4), memcpy(want, exp + 16 + 4 * T, (size_t)T * V * 4);
    mg_state *s;
    mg_state_create(m, &s);
    CHECK(mg_lm_forward(m, s, ids, (int)T, got, 1) == MG_OK, "%s", mg_last_error());
    CHECK(close_ratio(got, want, (size_t)T * V, 1e-4, 1e-4) <= 1, "%s: forward off by %.2fx the 1e-4 allowance", stem,
          close_ratio(got, want, (size_t)T * V, 1e-4, 1e-4));

    /* save() in the file's own dtype gives back the file, tokenizer included */
    uint8_t *saved;
    size_t saved_size;
    CHECK(mg_model_save(m, dtype, NULL, 0, &saved, &saved_size) == MG_OK, "%s: %s", stem, mg_last_error());
    CHECK(saved_size == size && !memcmp(saved, file, size), "%s: save() gives other bytes (%zu vs %zu)", stem,
          saved_size, size);
    free(saved);
    /* and in Q8 it still carries the tokenizer, unchanged, last */
    mg_model *back;
    mg_model_params p = mg_model_default_params();
    p.take_ownership = 1;
    CHECK(mg_model_save(m, MG_DTYPE_Q8, NULL, 0, &saved, &saved_size) == MG_OK, "%s: %s", stem, mg_last_error());
    REQUIRE(mg_model_load(saved, saved_size, &p, &back) == MG_OK, "%s saved as q8: %s", stem, mg_last_error());
    const uint8_t *bytes2;
    size_t n2;
    mg_model_tokenizer(back, &bytes2, &n2);
    CHECK(mg_model_config(back)->tokenizer == kind && n2 == n && !memcmp(bytes2, bytes, n) && bytes2 == saved + saved_size - n,
          "%s: q8 save lost the tokenizer", stem);
    mg_model_free(back);
    mg_state_free(s);
    mg_model_free(m);
    free(ids), free(want), free(got), free(file), free(exp), free(tok);
}

/* The tiny fixture rewritten with __metadata__ "tokenizer" = meta (NULL: as it is) and, when tensor_dtype >= 0, a
 * tensor "tokenizer" of that dtype and shape [len]; the F32 tensor `u8_name`, if given, turned into U8 (its shape kept). */
static uint8_t *rewrite(const char *meta, int tensor_dtype, const char *u8_name, size_t *out_size) {
    size_t size;
    unsigned char *base = fixture("lm", "tiny-gru-d4-l2-conv2.safetensors", &size);
    mg_safetensors st;
    if (!base || mg_safetensors_parse(base, size, &st)) return free(base), NULL;
    mg_meta kv[32];
    mg_tensor_out t[64];
    int n_meta = 0, n = 0;
    for (int i = 0; i < st.n_meta && n_meta < 32; i++, n_meta++)
        kv[n_meta] = (mg_meta){st.meta[i].key, meta && !strcmp(st.meta[i].key, "tokenizer") ? (char *)meta : st.meta[i].value};
    for (int i = 0; i < st.n_tensors && n < 63; i++, n++) {
        const mg_tensor_info *x = &st.tensors[i];
        t[n] = (mg_tensor_out){x->name, x->dtype, x->ndim, {x->shape[0], x->shape[1], x->shape[2]}, st.data + x->begin,
                               (size_t)(x->end - x->begin)};
        if (u8_name && !strcmp(x->name, u8_name)) t[n].dtype = MG_DT_U8, t[n].bytes /= 4; /* F32 -> bytes, same shape */
    }
    static const char json[] = "{\"model\": {\"vocab\": {}}}"; /* 24 bytes: 6 F32 values when F32 */
    if (tensor_dtype >= 0)
        t[n++] = (mg_tensor_out){"tokenizer", tensor_dtype, 1, {tensor_dtype == MG_DT_F32 ? 6 : 24, 1, 1}, json, 24};
    uint8_t *out = NULL;
    if (mg_safetensors_write(kv, n_meta, t, n, &out, out_size)) out = NULL;
    mg_safetensors_free(&st);
    free(base);
    return out;
}

static void check_refused(const char *what, uint8_t *file, size_t size, const char *needle1, const char *needle2) {
    mg_model *m = NULL;
    REQUIRE(file, "%s: could not write the file", what);
    int st = mg_model_load(file, size, NULL, &m);
    CHECK(st == MG_EBADFILE && strstr(mg_last_error(), needle1) && strstr(mg_last_error(), needle2),
          "%s: status %d, %s", what, st, mg_last_error());
    mg_model_free(m);
    free(file);
}

static void check_consistency(void) {
    size_t size;
    uint8_t *file = rewrite("tokenizer.json", MG_DT_U8, NULL, &size);
    mg_model *m;
    REQUIRE(file && mg_model_load(file, size, NULL, &m) == MG_OK, "a tokenizer.json tensor: %s", mg_last_error());
    const uint8_t *bytes;
    size_t n;
    CHECK(mg_model_tokenizer(m, &bytes, &n) == MG_OK && n == 24 && !memcmp(bytes, "{\"model\"", 8), "the tensor's bytes");
    CHECK(mg_model_config(m)->tokenizer == MG_TOKENIZER_JSON, "kind");
    mg_model_free(m);
    free(file);
    /* a model without one gives NULL, 0 */
    file = rewrite(NULL, -1, NULL, &size);
    REQUIRE(file && mg_model_load(file, size, NULL, &m) == MG_OK, "%s", mg_last_error());
    CHECK(mg_model_tokenizer(m, &bytes, &n) == MG_OK && !bytes && n == 0, "bytes: no tokenizer tensor");
    CHECK(mg_model_tokenizer(m, NULL, &n) == MG_EINVAL, "NULL argument");
    mg_model_free(m);
    free(file);

    file = rewrite("tokenizer.json", -1, NULL, &size);
    check_refused("tokenizer.json without the tensor", file, size, "\"tokenizer\" is \"tokenizer.json\"", "no tensor tokenizer");
    file = rewrite("sentencepiece", -1, NULL, &size);
    check_refused("sentencepiece without the tensor", file, size, "\"tokenizer\" is \"sentencepiece\"", "no tensor tokenizer");
    file = rewrite(NULL, MG_DT_U8, NULL, &size);
    check_refused("the tensor with bytes", file, size, "tensor tokenizer", "\"tokenizer\" is \"bytes\"");
    file = rewrite("none", MG_DT_U8, NULL, &size);
    check_refused("the tensor with none", file, size, "tensor tokenizer", "\"tokenizer\" is \"none\"");
    file = rewrite("sentencepiece", MG_DT_F32, NULL, &size);
    check_refused("an F32 tokenizer tensor", file, size, "tensor tokenizer", "must be U8");
    file = rewrite("tiktoken", MG_DT_U8, NULL, &size);
    check_refused("another tokenizer kind", file, size, "\"tokenizer\" is \"tiktoken\"", "\"sentencepiece\"");
    file = rewrite(NULL, -1, "norm.weight", &size);
    check_refused("a U8 norm", file, size, "norm.weight", "only allowed for the tokenizer");
}

int main(void) {
    check_fixture("minGRULM-gpt2-d8-l1", MG_TOKENIZER_JSON, NULL, MG_DTYPE_F16);
    check_fixture("lstm-spm-bpe-d16-l2", MG_TOKENIZER_SENTENCEPIECE, "tests/fixtures/tokenizers/spm-bpe.model", MG_DTYPE_F32);
    check_consistency();
    return check_report("test-tokenizer-file");
}
