/* error.c — status names and the per-thread message behind mg_last_error(). */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local char last_error[512];

const char *mg_strerror(int status) {
    switch (status) {
    case MG_OK: return "MG_OK";
    case MG_EINVAL: return "MG_EINVAL";
    case MG_ENOMEM: return "MG_ENOMEM";
    case MG_ESHAPE: return "MG_ESHAPE";
    case MG_EBADFILE: return "MG_EBADFILE";
    case MG_ERANGE: return "MG_ERANGE";
    case MG_EMISMATCH: return "MG_EMISMATCH";
    default: return "MG_EUNKNOWN";
    }
}

const char *mg_last_error(void) { return last_error; }

int mg_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

int mg_mul_size(size_t a, size_t b, size_t max, size_t *out) {
    if (a != 0 && b > max / a) return 0;
    *out = a * b;
    return 1;
}
