/*
 * Helpers shared by hammer's C plugins: error strings, log lines, options and
 * the little-endian byte layout of saved state.
 *
 * It includes the world's bindings, `plugin.h`, which build.sh generates
 * with `wit-bindgen c --rename-world plugin --autodrop-borrows yes`: whatever
 * the world, its own types are then named `plugin_string_t`,
 * `plugin_list_u8_t`, ..., and the borrowed tensors an export receives are
 * dropped by the bindings when it returns.
 *
 * Ownership, as the generated header and source define it:
 *   - what an export receives (options, a state) is the plugin's to free;
 *   - what an export returns (an error string, a list, a state) must be heap
 *     memory: the bindings free() it after the host has copied it;
 *   - strings passed to an import are only borrowed by the host;
 *   - what an import returns (a shape, an error string, a tensor handle) is
 *     the plugin's to free (or to drop, for a tensor handle).
 * Out of memory traps (abort), as the generated `cabi_realloc` does: the host
 * then reports the plugin, the phase and the trap.
 */
#ifndef HAMMER_PLUGIN_UTIL_H
#define HAMMER_PLUGIN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

/* malloc that traps instead of returning NULL. */
static inline void *xmalloc(size_t size) {
    void *p = malloc(size == 0 ? 1 : size);
    if (p == NULL) {
        abort();
    }
    return p;
}

/* A new heap string formatted like vprintf; its length (without the NUL) in *len. */
static inline char *vformat(size_t *len, const char *fmt, va_list args) {
    va_list again;
    va_copy(again, args);
    int n = vsnprintf(NULL, 0, fmt, args);
    if (n < 0) {
        abort();
    }
    char *text = xmalloc((size_t)n + 1);
    vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    *len = (size_t)n;
    return text;
}

/* Sets *err to a message formatted like printf, in memory the bindings free
 * after the call; returns false, the value of an export that failed. */
__attribute__((format(printf, 2, 3)))
static inline bool fail(plugin_string_t *err, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    size_t len;
    char *text = vformat(&len, fmt, args);
    va_end(args);
    if (len == 0) {
        /* The bindings free only non-empty strings. */
        free(text);
        text = NULL;
    }
    err->ptr = (uint8_t *)text;
    err->len = len;
    return false;
}

/* A line in hammer's log, formatted like printf. */
__attribute__((format(printf, 2, 3)))
static inline void log_line(hammer_plugin_host_level_t level, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    plugin_string_t message;
    char *text = vformat(&message.len, fmt, args);
    va_end(args);
    message.ptr = (uint8_t *)text;
    hammer_plugin_host_log(level, &message);
    free(text);
}

/* Asks the runner to stop, giving a reason formatted like printf. */
__attribute__((format(printf, 1, 2)))
static inline void request_stop(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    plugin_string_t reason;
    char *text = vformat(&reason.len, fmt, args);
    va_end(args);
    reason.ptr = (uint8_t *)text;
    hammer_plugin_host_request_stop(&reason);
    free(text);
}

/* The host's scalar `name`; false when it has no value yet. */
static inline bool host_scalar(const char *name, double *value) {
    plugin_string_t key;
    plugin_string_set(&key, name);
    return hammer_plugin_host_scalar(&key, value);
}

/* Whether a (not NUL-terminated) string from the host equals `name`. */
static inline bool string_is(const plugin_string_t *s, const char *name) {
    size_t n = strlen(name);
    return s->len == n && (n == 0 || memcmp(s->ptr, name, n) == 0);
}

/* The two arguments of printf's `%.*s` for a (not NUL-terminated) host
 * string: its length as an int, and its bytes ("" when empty, whose pointer
 * may point nowhere). */
#define PRINT_STR(s) print_len(s), print_text(s)

static inline int print_len(const plugin_string_t *s) {
    return s->len > INT32_MAX ? INT32_MAX : (int)s->len;
}

static inline const char *print_text(const plugin_string_t *s) {
    return s->len == 0 ? "" : (const char *)s->ptr;
}

/* An option's value as a number (an integer or a float); false otherwise. */
static inline bool option_number(const hammer_plugin_types_option_value_t *value, double *out) {
    switch (value->tag) {
    case HAMMER_PLUGIN_TYPES_OPTION_VALUE_INTEGER:
        *out = (double)value->val.integer;
        return true;
    case HAMMER_PLUGIN_TYPES_OPTION_VALUE_FLOAT:
        *out = value->val.float_;
        return true;
    default:
        return false;
    }
}

/* Little-endian fields of saved state. */
static inline void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static inline void put_f64(uint8_t *p, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u64(p, bits);
}

static inline uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

static inline uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static inline double get_f64(const uint8_t *p) {
    uint64_t bits = get_u64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

#endif
