
static double factor = 0.9;

bool exports_hammer_plugin_lr_policy_setup(exports_hammer_plugin_lr_policy_options_t *options, double base_lr,
                                           double *maybe_base_momentum,
                                           exports_hammer_plugin_lr_policy_cadence_t *ret, plugin_string_t *err) {
    (void)base_lr;
    (void)maybe_base_momentum;
    bool ok = true;
    for (size_t i = 0; ok && i < options->len; i++) {
        const plugin_string_t *key = &options->ptr[i].f0;
        const hammer_plugin_types_option_value_t *value = &options->ptr[i].f1;
        if (string_is(key, "gamma") && value->tag == HAMMER_PLUGIN_TYPES_OPTION_VALUE_FLOAT) {
            factor = value->val.float_;
        } else if (string_is(key, "gamma") && value->tag == HAMMER_PLUGIN_TYPES_OPTION_VALUE_INTEGER) {
            factor = (double)value->val.integer;
        } else {
            ok = fail(err, "unknown or mistyped option `%.*s` (the plugin takes `gamma`, a number)",
                      (int)key->len, key->len ? (const char *)key->ptr : "");
        }
    }
    exports_hammer_plugin_lr_policy_options_free(options);
    /* Asked before the first iteration of each epoch (and of a resumed run), not at every one. */
    *ret = EXPORTS_HAMMER_PLUGIN_LR_POLICY_CADENCE_EPOCH;
    return ok;
}

bool exports_hammer_plugin_lr_policy_step(exports_hammer_plugin_lr_policy_step_info_t *info, double lr,
                                          double *maybe_momentum, exports_hammer_plugin_lr_policy_decision_t *ret,
                                          plugin_string_t *err) {
    (void)err;
    bool new_epoch = info->inner_iter == 0 && info->epoch > 0;
    ret->lr = new_epoch ? lr * factor : lr;
    ret->momentum.is_some = maybe_momentum != NULL;
    ret->momentum.val = maybe_momentum != NULL ? *maybe_momentum : 0.0;
    return true;
}
