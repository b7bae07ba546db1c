
bool exports_hammer_plugin_hook_setup(exports_hammer_plugin_hook_options_t *options,
                                      exports_hammer_plugin_hook_list_subscription_t *ret, plugin_string_t *err) {
    uint32_t every = 100;
    bool ok = true;
    for (size_t i = 0; ok && i < options->len; i++) {
        const plugin_string_t *key = &options->ptr[i].f0;
        const hammer_plugin_types_option_value_t *value = &options->ptr[i].f1;
        if (string_is(key, "every") && value->tag == HAMMER_PLUGIN_TYPES_OPTION_VALUE_INTEGER
            && value->val.integer >= 1 && value->val.integer <= UINT32_MAX) {
            every = (uint32_t)value->val.integer;
        } else {
            ok = fail(err, "unknown or wrong option `%.*s` (the plugin takes `every`, an integer >= 1)",
                      (int)key->len, key->len ? (const char *)key->ptr : "");
        }
    }
    exports_hammer_plugin_hook_options_free(options);
    if (!ok) {
        return false;
    }
    ret->ptr = malloc(sizeof *ret->ptr);
    if (ret->ptr == NULL) {
        abort();
    }
    /* Called after iterations every, 2 x every, ... only (MMEngine's every_n_train_iters). */
    ret->ptr[0] = (exports_hammer_plugin_hook_subscription_t){.phase = HAMMER_PLUGIN_TYPES_PHASE_AFTER_TRAIN_ITER,
                                                              .every = every};
    ret->len = 1;
    return true;
}

bool exports_hammer_plugin_hook_on_phase(exports_hammer_plugin_hook_phase_t phase, plugin_string_t *err) {
    (void)phase;
    (void)err;
    plugin_string_t name;
    plugin_string_set(&name, "loss");
    double loss;
    if (hammer_plugin_host_scalar(&name, &loss)) {
        hammer_plugin_host_step_info_t step;
        hammer_plugin_host_step(&step);
        char line[128];
        snprintf(line, sizeof line, "iteration %" PRIu64 ": loss %.4f", step.iter + 1, loss);
        plugin_string_t message;
        plugin_string_set(&message, line);
        hammer_plugin_host_log(HAMMER_PLUGIN_HOST_LEVEL_INFO, &message);
    }
    return true;
}
