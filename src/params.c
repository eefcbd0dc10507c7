/* params.c — training's parameter store: the model's weights as F32 masters that a trainer updates (m->params, in
 * the tensor table's order), the views of the tensors bound to them (matrices through packed copies where the
 * kernels pack), and, for a Q8 model that trains its top alone, the int8 copies quantized again after each step so
 * that it still runs in Q8. model.c loads and packs; train.c computes the gradients and the steps. */
#include <string.h>

#include "model.h"

int mg_model_make_trainable(mg_model *m, size_t from) {
    if (!m) return mg_fail(MG_EINVAL, "mg_model_make_trainable: model is NULL");
    size_t n = (size_t)m->cfg.n_params, bound = m->params ? m->trainable_from : n;
    if (from >= bound) return MG_OK;
    float *params = m->params;
    if (!params) {
        params = mg_model_own(m, n * sizeof(float));
        if (!params) return mg_fail(MG_ENOMEM, "out of memory for the %zu F32 training weights (%zu MB)", n, n * 4 >> 20);
        for (int i = 0; i < m->n_tensors; i++) mg_tensor_values(&m->tensors[i], params + m->tensors[i].offset);
    }
    m->params = params, m->trainable_from = bound; /* all of params is the weights' values; [bound, n) is bound */
    /* the tensors to bind now: [from, bound), and with from = 0 the Q8 ones bound before (all becomes F32) */
#define REBIND(s) ((s)->offset >= from && ((s)->offset < bound || (!from && (s)->requant)))
    /* their int8 or packed copies first, so that a failure leaves the views as they were */
    for (int i = 0; i < m->n_tensors; i++) {
        mg_tensor_slot *s = &m->tensors[i];
        if (!REBIND(s) || !s->matrix || s->matrix == &m->token_emb) continue;
        size_t R = (size_t)s->matrix->rows;
        if (from && s->matrix->q8) {
            s->requant = mg_model_own(m, s->count), s->requant_scale = mg_model_own(m, R * sizeof(float));
            s->requant_rowsum = mg_model_own(m, R * sizeof(int32_t));
            if (!s->requant || !s->requant_scale || !s->requant_rowsum) return mg_fail(MG_ENOMEM, "out of memory for the int8 copy of %s", s->name);
        } else if (m->kernels.packed && !s->packed) {
            s->packed = s->matrix->packed && s->matrix->f32 ? (float *)s->matrix->f32 : mg_model_own(m, s->count * sizeof(float));
            if (!s->packed) return mg_fail(MG_ENOMEM, "out of memory for the training copy of %s", s->name);
        }
    }
    for (int i = 0; i < m->n_tensors; i++) {
        mg_tensor_slot *s = &m->tensors[i];
        if (!REBIND(s)) continue;
        float *at = params + s->offset;
        int rows = s->matrix ? s->matrix->rows : 0, cols = s->matrix ? s->matrix->cols : 0;
        if (s->vector) *s->vector = at;
        else if (from && s->requant)
            *s->matrix = (mg_matrix){.q8 = s->requant, .scale = s->requant_scale, .rowsum = s->requant_rowsum, .rows = rows, .cols = cols};
        else *s->matrix = (mg_matrix){.f32 = at, .rows = rows, .cols = cols}, s->requant = NULL;
    }
#undef REBIND
    m->trainable_from = from;
    if (from == 0) m->cfg.quantized = 0;
    mg_model_params_changed(m);
    return MG_OK;
}

void mg_model_params_changed(mg_model *m) {
    for (int i = 0; i < m->n_tensors; i++) {
        mg_tensor_slot *s = &m->tensors[i];
        if (s->offset < m->trainable_from) continue;
        const float *w = m->params + s->offset;
        if (s->requant) {
            int R = s->matrix->rows, C = s->matrix->cols;
            mg_quantize_rows(w, R, C, s->requant, s->requant_scale, s->requant_rowsum);
            s->matrix->packed = m->kernels.q8packed && mg_q8_packs(C) && mg_pack_q8_in_place(s->requant, R, C);
        } else if (s->packed) {
            mg_pack_f32(w, s->matrix->rows, s->matrix->cols, s->packed);
            s->matrix->f32 = s->packed;
            s->matrix->packed = 1;
        }
    }
}
