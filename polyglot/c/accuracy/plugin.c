/*
 * `accuracy`: top-1 classification accuracy in percent (metric, C).
 *
 * The same results as the Rust `plugins/accuracy` with its default `topk = 1`
 * (and as polyglot/python/accuracy): the model's output is `[batch, classes]`;
 * the targets are class indices `[batch]` (or `[batch, classes]`, reduced with
 * `argmax`). Everything is computed in the host (`argmax`, `eq`, `sum`,
 * `numel`); no tensor is copied into the plugin. Reported as `accuracy`.
 */
#include <inttypes.h>

#include "plugin_util.h"

static double correct;
static double total;

bool exports_hammer_plugin_metric_setup(exports_hammer_plugin_metric_options_t *options, plugin_string_t *err) {
    bool ok = true;
    if (options->len > 0) {
        const plugin_string_t *key = &options->ptr[0].f0;
        ok = fail(err, "unknown option `%.*s` (the C accuracy takes none)", PRINT_STR(key));
    }
    exports_hammer_plugin_metric_options_free(options);
    exports_hammer_plugin_metric_reset();
    return ok;
}

void exports_hammer_plugin_metric_reset(void) {
    correct = 0.0;
    total = 0.0;
}

/* A shape as Python prints a list: `[320, 2]`, in a new heap string. */
static char *shape_text(const plugin_list_u64_t *shape) {
    /* At most 20 digits and ", " per dimension, the brackets and the NUL. */
    size_t cap = 3 + 22 * shape->len;
    char *text = xmalloc(cap);
    size_t at = 0;
    text[at++] = '[';
    for (size_t i = 0; i < shape->len; i++) {
        at += (size_t)snprintf(text + at, cap - at, "%s%" PRIu64, i > 0 ? ", " : "", shape->ptr[i]);
    }
    snprintf(text + at, cap - at, "]");
    return text;
}

static bool same_shape(const plugin_list_u64_t *a, const plugin_list_u64_t *b) {
    return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len * sizeof *a->ptr) == 0);
}

/* Adds the correct predictions among `hits` (booleans) and their number. */
static void count(hammer_plugin_host_own_tensor_t hits) {
    hammer_plugin_host_borrow_tensor_t h = hammer_plugin_host_borrow_tensor(hits);
    correct += hammer_plugin_host_method_tensor_sum(h);
    total += (double)hammer_plugin_host_method_tensor_numel(h);
    hammer_plugin_host_tensor_drop_own(hits);
}

/* Counts the hits of predictions `predicted` against `targets`: class
 * indices, or scores of the same shape as the output (`by_argmax`). The host's
 * error, if any, becomes the plugin's. */
static bool count_hits(hammer_plugin_host_borrow_tensor_t predicted, hammer_plugin_host_borrow_tensor_t targets,
                       bool by_argmax, plugin_string_t *err) {
    hammer_plugin_host_own_tensor_t labels;
    if (by_argmax) {
        if (!hammer_plugin_host_method_tensor_argmax(targets, 1, &labels, err)) {
            return false;
        }
        targets = hammer_plugin_host_borrow_tensor(labels);
    }
    hammer_plugin_host_own_tensor_t hits;
    bool ok = hammer_plugin_host_method_tensor_eq(predicted, targets, &hits, err);
    if (ok) {
        count(hits);
    }
    if (by_argmax) {
        hammer_plugin_host_tensor_drop_own(labels);
    }
    return ok;
}

bool exports_hammer_plugin_metric_process(exports_hammer_plugin_metric_borrow_tensor_t output,
                                          exports_hammer_plugin_metric_borrow_tensor_t targets, double loss,
                                          plugin_string_t *err) {
    (void)loss;
    plugin_list_u64_t shape;
    plugin_list_u64_t target_shape;
    hammer_plugin_host_method_tensor_shape(output, &shape);
    hammer_plugin_host_method_tensor_shape(targets, &target_shape);
    bool ok;
    if (shape.len != 2) {
        char *found = shape_text(&shape);
        ok = fail(err, "accuracy needs the model's output as [batch, classes], found shape %s", found);
        free(found);
    } else if (!(target_shape.len == 1 && target_shape.ptr[0] == shape.ptr[0]) && !same_shape(&target_shape, &shape)) {
        char *expected = shape_text(&shape);
        char *found = shape_text(&target_shape);
        ok = fail(err, "accuracy needs targets of shape [%" PRIu64 "] or %s, found %s", shape.ptr[0], expected, found);
        free(expected);
        free(found);
    } else {
        hammer_plugin_host_own_tensor_t predicted;
        ok = hammer_plugin_host_method_tensor_argmax(output, 1, &predicted, err);
        if (ok) {
            ok = count_hits(hammer_plugin_host_borrow_tensor(predicted), targets, same_shape(&target_shape, &shape), err);
            hammer_plugin_host_tensor_drop_own(predicted);
        }
    }
    plugin_list_u64_free(&shape);
    plugin_list_u64_free(&target_shape);
    return ok;
}

bool exports_hammer_plugin_metric_compute(plugin_list_tuple2_string_f64_t *ret, plugin_string_t *err) {
    if (total == 0.0) {
        return fail(err, "accuracy: no sample was processed in this pass");
    }
    ret->ptr = xmalloc(sizeof *ret->ptr);
    ret->len = 1;
    plugin_string_dup(&ret->ptr[0].f0, "accuracy");
    ret->ptr[0].f1 = 100.0 * correct / total;
    return true;
}

void exports_hammer_plugin_metric_save_state(plugin_list_u8_t *ret) {
    /* A pass never spans a checkpoint: nothing to keep. */
    ret->ptr = NULL;
    ret->len = 0;
}

bool exports_hammer_plugin_metric_load_state(plugin_list_u8_t *state, plugin_string_t *err) {
    (void)err;
    plugin_list_u8_free(state);
    return true;
}
