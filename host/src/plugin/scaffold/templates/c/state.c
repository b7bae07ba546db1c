
void exports_hammer_plugin_@IFACE@_save_state(plugin_list_u8_t *ret) {
    /* Nothing to keep in checkpoints: an empty state. */
    ret->ptr = NULL;
    ret->len = 0;
}

bool exports_hammer_plugin_@IFACE@_load_state(plugin_list_u8_t *state, plugin_string_t *err) {
    (void)err;
    plugin_list_u8_free(state);
    return true;
}
