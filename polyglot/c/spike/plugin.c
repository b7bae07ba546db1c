/*
 * `spike`: a loss-spike detector (hook, C).
 *
 * After every training iteration it reads the host scalar `loss`, emits
 * `spike/ratio` = loss / running mean (the mean of the finite losses of the
 * iterations before this one), and asks the runner to stop when the loss is
 * NaN (or infinite) or larger than `factor` (option, default 10) times the
 * running mean. The running mean and its count are saved in checkpoints, in
 * the layout of polyglot/python/spike: "HPSK", u32 version, u64 count, f64 mean
 * (little-endian).
 */
#include <inttypes.h>
#include <math.h>

#include "plugin_util.h"

#define MAGIC "HPSK"
#define VERSION 1u
#define STATE_LEN 24u

static double factor = 10.0;
static uint64_t count;
static double mean;

/* `value` as Python's repr() writes a float (`-1.0`, `1e-05`, `nan`), in `out`. */
static void python_repr(double value, char *out, size_t cap) {
    if (isnan(value)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(value)) {
        snprintf(out, cap, value > 0 ? "inf" : "-inf");
        return;
    }
    /* The fewest significant digits that read back as the same double. */
    int digits = 1;
    char text[40];
    for (; digits < 17; digits++) {
        snprintf(text, sizeof text, "%.*e", digits - 1, value);
        if (strtod(text, NULL) == value) {
            break;
        }
    }
    snprintf(text, sizeof text, "%.*e", digits - 1, value);
    int exponent = atoi(strchr(text, 'e') + 1);
    if (exponent < -4 || exponent >= 16) {
        snprintf(out, cap, "%s", text);
        return;
    }
    int decimals = digits - 1 - exponent;
    snprintf(out, cap, "%.*f%s", decimals > 0 ? decimals : 0, value, decimals > 0 ? "" : ".0");
}

/* Reads the options; false with *err set on the first bad one. */
static bool configure(const exports_hammer_plugin_hook_options_t *options, plugin_string_t *err) {
    for (size_t i = 0; i < options->len; i++) {
        const plugin_string_t *key = &options->ptr[i].f0;
        if (!string_is(key, "factor")) {
            return fail(err, "unknown option `%.*s` (valid: factor)", PRINT_STR(key));
        }
        if (!option_number(&options->ptr[i].f1, &factor)) {
            return fail(err, "option `factor` must be a number");
        }
        if (!(factor > 0.0)) {
            char found[40];
            python_repr(factor, found, sizeof found);
            return fail(err, "option `factor` must be positive, found %s", found);
        }
    }
    return true;
}

bool exports_hammer_plugin_hook_setup(exports_hammer_plugin_hook_options_t *options,
                                      exports_hammer_plugin_hook_list_subscription_t *ret, plugin_string_t *err) {
    bool ok = configure(options, err);
    exports_hammer_plugin_hook_options_free(options);
    if (!ok) {
        return false;
    }
    ret->ptr = xmalloc(sizeof *ret->ptr);
    ret->ptr[0] = (exports_hammer_plugin_hook_subscription_t){.phase = HAMMER_PLUGIN_TYPES_PHASE_AFTER_TRAIN_ITER, .every = 1};
    ret->len = 1;
    return true;
}

/* The iteration, for a stop's reason (asked of the host only then). */
static uint64_t current_iter(void) {
    hammer_plugin_host_step_info_t step;
    hammer_plugin_host_step(&step);
    return step.iter;
}

bool exports_hammer_plugin_hook_on_phase(exports_hammer_plugin_hook_phase_t phase, plugin_string_t *err) {
    (void)phase;
    (void)err;
    double loss;
    if (!host_scalar("loss", &loss)) {
        return true;
    }
    if (!isfinite(loss)) {
        /* Python's spelling: `nan` whatever the sign bit, `inf`, `-inf`. */
        const char *text = isnan(loss) ? "nan" : loss > 0 ? "inf" : "-inf";
        request_stop("spike: the loss is %s at iteration %" PRIu64, text, current_iter());
        return true;
    }
    if (count > 0) {
        double ratio = mean != 0.0 ? loss / mean : INFINITY;
        plugin_string_t name;
        plugin_string_set(&name, "spike/ratio");
        hammer_plugin_host_emit_scalar(&name, ratio);
        if (loss > factor * mean) {
            request_stop("spike: the loss %.6g is %.3g x its running mean %.6g (factor %g) at iteration %" PRIu64,
                         loss, ratio, mean, factor, current_iter());
        }
    }
    count += 1;
    mean += (loss - mean) / (double)count;
    return true;
}

void exports_hammer_plugin_hook_save_state(plugin_list_u8_t *ret) {
    ret->ptr = xmalloc(STATE_LEN);
    ret->len = STATE_LEN;
    memcpy(ret->ptr, MAGIC, 4);
    put_u32(ret->ptr + 4, VERSION);
    put_u64(ret->ptr + 8, count);
    put_f64(ret->ptr + 16, mean);
}

/* Restores a state save_state wrote (nothing for an empty one). */
static bool restore(const plugin_list_u8_t *state, plugin_string_t *err) {
    if (state->len == 0) {
        return true;
    }
    if (state->len != STATE_LEN || memcmp(state->ptr, MAGIC, 4) != 0) {
        return fail(err, "spike: not a spike state");
    }
    uint32_t version = get_u32(state->ptr + 4);
    if (version != VERSION) {
        return fail(err, "spike: state version %" PRIu32 ", expected %u", version, VERSION);
    }
    count = get_u64(state->ptr + 8);
    mean = get_f64(state->ptr + 16);
    return true;
}

bool exports_hammer_plugin_hook_load_state(plugin_list_u8_t *state, plugin_string_t *err) {
    bool ok = restore(state, err);
    plugin_list_u8_free(state);
    return ok;
}
