/*
 * `cosine`: CosineAnnealingLR by epoch (lr-policy, C).
 *
 * torch's chainable (recursive) formula, stepped like the Rust `lr` plugin with
 * `type = "CosineAnnealingLR", by_epoch = true`: its cadence is `epoch`, so
 * the host asks before the first training iteration of each epoch (and the
 * first of a resumed run); the schedule steps once per new epoch (the first
 * call is step 0 and keeps the lr), and the lr holds in between. Options: `T_max`
 * (epochs, required), `eta_min` (default 0). The state (step count, next epoch
 * to step at) is saved in checkpoints, in the layout of
 * polyglot/python/cosine: "HPCO", u32 version, i64 step, u64 next epoch
 * (little-endian), so a resumed run continues exactly.
 */
#include <inttypes.h>
#include <math.h>

#include "plugin_util.h"

#define MAGIC "HPCO"
#define VERSION 1u
#define STATE_LEN 24u

/* Python's math.pi: the double nearest to pi (M_PI is not standard C). */
static const double PI = 3.141592653589793;

static int64_t t_max; /* 0 until setup */
static double eta_min;
static double base_lr;
static int64_t last_step = -1;
static uint64_t next_epoch;

/* Reads the options; false with *err set on the first bad one. */
static bool configure(const exports_hammer_plugin_lr_policy_options_t *options, plugin_string_t *err) {
    for (size_t i = 0; i < options->len; i++) {
        const plugin_string_t *key = &options->ptr[i].f0;
        const hammer_plugin_types_option_value_t *value = &options->ptr[i].f1;
        if (string_is(key, "T_max")) {
            if (value->tag != HAMMER_PLUGIN_TYPES_OPTION_VALUE_INTEGER || value->val.integer < 1) {
                return fail(err, "option `T_max` must be an integer >= 1");
            }
            t_max = value->val.integer;
        } else if (string_is(key, "eta_min")) {
            if (!option_number(value, &eta_min)) {
                return fail(err, "option `eta_min` must be a number");
            }
        } else {
            return fail(err, "unknown option `%.*s` (valid: T_max, eta_min)", PRINT_STR(key));
        }
    }
    if (t_max == 0) {
        return fail(err, "give `T_max` (in epochs)");
    }
    return true;
}

bool exports_hammer_plugin_lr_policy_setup(exports_hammer_plugin_lr_policy_options_t *options, double lr,
                                           double *maybe_base_momentum,
                                           exports_hammer_plugin_lr_policy_cadence_t *ret, plugin_string_t *err) {
    (void)maybe_base_momentum;
    bool ok = configure(options, err);
    exports_hammer_plugin_lr_policy_options_free(options);
    base_lr = lr;
    *ret = EXPORTS_HAMMER_PLUGIN_LR_POLICY_CADENCE_EPOCH;
    return ok;
}

/* Whether (t - 1 - T_max) % (2 T_max) == 0, as Python computes it on
 * unbounded integers: whether t - 1 = T_max modulo 2 T_max. In unsigned 64-bit
 * arithmetic, which cannot overflow here (2 T_max < 2^64). */
static bool restarts(int64_t t) {
    uint64_t period = 2 * (uint64_t)t_max;
    uint64_t before = (uint64_t)(t - 1); /* t > INT64_MIN: the caller incremented it */
    uint64_t residue = t - 1 >= 0 ? before % period : (period - (0 - before) % period) % period;
    return residue == (uint64_t)t_max;
}

/* The lr of step `last_step`, from the lr of the step before. */
static double value(double lr) {
    int64_t t = last_step;
    double tm = (double)t_max;
    if (t == 0) {
        return lr;
    }
    if (restarts(t)) {
        return lr + (base_lr - eta_min) * (1.0 - cos(PI / tm)) / 2.0;
    }
    return (1.0 + cos(PI * (double)t / tm)) / (1.0 + cos(PI * (double)(t - 1) / tm)) * (lr - eta_min) + eta_min;
}

bool exports_hammer_plugin_lr_policy_step(exports_hammer_plugin_lr_policy_step_info_t *info, double lr,
                                          double *maybe_momentum, exports_hammer_plugin_lr_policy_decision_t *ret,
                                          plugin_string_t *err) {
    (void)maybe_momentum;
    if (t_max == 0) {
        return fail(err, "the lr policy was called before `setup`");
    }
    while (next_epoch <= info->epoch) {
        if (last_step == INT64_MAX) {
            return fail(err, "cosine: the step count overflows");
        }
        next_epoch += 1;
        last_step += 1;
        lr = value(lr);
    }
    ret->lr = lr;
    ret->momentum.is_some = false;
    return true;
}

void exports_hammer_plugin_lr_policy_save_state(plugin_list_u8_t *ret) {
    ret->ptr = xmalloc(STATE_LEN);
    ret->len = STATE_LEN;
    memcpy(ret->ptr, MAGIC, 4);
    put_u32(ret->ptr + 4, VERSION);
    put_u64(ret->ptr + 8, (uint64_t)last_step);
    put_u64(ret->ptr + 16, next_epoch);
}

/* Restores a state save_state wrote (nothing for an empty one). */
static bool restore(const plugin_list_u8_t *state, plugin_string_t *err) {
    if (state->len == 0) {
        return true;
    }
    if (state->len != STATE_LEN || memcmp(state->ptr, MAGIC, 4) != 0) {
        return fail(err, "cosine: not a cosine state");
    }
    uint32_t version = get_u32(state->ptr + 4);
    if (version != VERSION) {
        return fail(err, "cosine: state version %" PRIu32 ", expected %u", version, VERSION);
    }
    /* Two's complement, as Python's struct packs an `q`. */
    uint64_t step = get_u64(state->ptr + 8);
    last_step = step > INT64_MAX ? -(int64_t)(UINT64_MAX - step) - 1 : (int64_t)step;
    next_epoch = get_u64(state->ptr + 16);
    return true;
}

bool exports_hammer_plugin_lr_policy_load_state(plugin_list_u8_t *state, plugin_string_t *err) {
    bool ok = restore(state, err);
    plugin_list_u8_free(state);
    return ok;
}
