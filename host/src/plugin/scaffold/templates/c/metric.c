
static double correct;
static double total;

bool exports_hammer_plugin_metric_setup(exports_hammer_plugin_metric_options_t *options, plugin_string_t *err) {
    bool ok = true;
    if (options->len > 0) {
        const plugin_string_t *key = &options->ptr[0].f0;
        ok = fail(err, "unknown option `%.*s` (the plugin takes none)", (int)key->len,
                  key->len ? (const char *)key->ptr : "");
    }
    exports_hammer_plugin_metric_options_free(options);
    return ok;
}

void exports_hammer_plugin_metric_reset(void) {
    correct = 0.0;
    total = 0.0;
}

bool exports_hammer_plugin_metric_process(exports_hammer_plugin_metric_borrow_tensor_t output,
                                          exports_hammer_plugin_metric_borrow_tensor_t targets, double loss,
                                          plugin_string_t *err) {
    (void)loss;
    hammer_plugin_host_own_tensor_t predicted;
    hammer_plugin_host_own_tensor_t hits;
    /* On failure the host's error becomes the plugin's. */
    if (!hammer_plugin_host_method_tensor_argmax(output, 1, &predicted, err)) {
        return false;
    }
    bool ok = hammer_plugin_host_method_tensor_eq(hammer_plugin_host_borrow_tensor(predicted), targets, &hits, err);
    if (ok) {
        correct += hammer_plugin_host_method_tensor_sum(hammer_plugin_host_borrow_tensor(hits));
        total += (double)hammer_plugin_host_method_tensor_numel(hammer_plugin_host_borrow_tensor(hits));
        hammer_plugin_host_tensor_drop_own(hits);
    }
    hammer_plugin_host_tensor_drop_own(predicted);
    return ok;
}

bool exports_hammer_plugin_metric_compute(plugin_list_tuple2_string_f64_t *ret, plugin_string_t *err) {
    (void)err;
    ret->ptr = malloc(sizeof *ret->ptr);
    if (ret->ptr == NULL) {
        abort();
    }
    ret->len = 1;
    plugin_string_dup(&ret->ptr[0].f0, "my_accuracy");
    ret->ptr[0].f1 = total == 0.0 ? 0.0 : 100.0 * correct / total;
    return true;
}
