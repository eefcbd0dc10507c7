/* safetensors.h — the .safetensors reader's table of contents (safetensors.c): tensors with their dtype, shape and
 * byte range, the __metadata__ strings. It knows nothing of models; model.c claims the tensors by name. */
#ifndef MINGRU_SAFETENSORS_H
#define MINGRU_SAFETENSORS_H

#include "internal.h"

/* Longest tensor name the loader accepts, in bytes. */
#define MG_MAX_NAME 1024

enum { MG_DT_F32, MG_DT_F16, MG_DT_BF16, MG_DT_I8, MG_DT_U8 }; /* U8: raw bytes (the embedded tokenizer file) */
#define MG_MAX_DIMS 8

typedef struct {
    char *name;
    int dtype;                    /* MG_DT_* */
    int ndim;
    uint64_t shape[MG_MAX_DIMS];
    uint64_t begin, end;          /* byte offsets in the data section */
    int used;                     /* claimed by the model (unclaimed tensors are an error) */
} mg_tensor_info;

typedef struct {
    char *key, *value;
} mg_meta;

typedef struct {
    mg_tensor_info *tensors;      /* sorted by name */
    int n_tensors;
    mg_meta *meta;
    int n_meta;
    const uint8_t *data;          /* the data section */
    uint64_t data_size;
} mg_safetensors;

/* Parses and checks the header of a .safetensors buffer: bounds, dtypes, shapes against sizes, offsets
 * inside the data and not overlapping. MG_EBADFILE with a message on any problem. */
int mg_safetensors_parse(const uint8_t *buf, size_t size, mg_safetensors *st);
void mg_safetensors_free(mg_safetensors *st);
mg_tensor_info *mg_safetensors_find(const mg_safetensors *st, const char *name);

/* A tensor to write: its raw little-endian bytes. */
typedef struct {
    const char *name;
    int dtype; /* MG_DT_F32, MG_DT_F16, MG_DT_I8 or MG_DT_U8 */
    int ndim;
    uint64_t shape[3];
    const void *data;
    size_t bytes;
} mg_tensor_out;

/* A .safetensors file laid out as tools/convert.py writes it, byte for byte: the header's JSON as Python's
 * json.dumps(separators=(",", ":")) (metadata first, in the given order), tensors back to back, widest dtype
 * first (F32, F16, I8, then U8: the tokenizer's bytes last; the given order within each), the header padded with spaces so that the data starts on
 * a 64-byte boundary. *out is malloc'd. */
int mg_safetensors_write(const mg_meta *meta, int n_meta, const mg_tensor_out *tensors, int n, uint8_t **out,
                         size_t *size);

#endif
