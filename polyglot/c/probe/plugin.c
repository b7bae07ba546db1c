/*
 * `probe`: a sandbox probe (hook, C, for tests). At setup and at the first
 * `before-train` it tries to read `/etc/hostname` through wasi-libc's stdio
 * and logs `read_file: denied (<strerror>)` or `read_file: ALLOWED`.
 */
#include <errno.h>

#include "plugin_util.h"

static void try_read(void) {
    errno = 0;
    FILE *file = fopen("/etc/hostname", "r");
    if (file == NULL) {
        log_line(HAMMER_PLUGIN_HOST_LEVEL_INFO, "read_file: denied (%s)", strerror(errno));
        return;
    }
    char buffer[256];
    while (fread(buffer, 1, sizeof buffer, file) == sizeof buffer) {
    }
    int error = ferror(file) ? errno : 0;
    fclose(file);
    if (error != 0) {
        log_line(HAMMER_PLUGIN_HOST_LEVEL_INFO, "read_file: denied (%s)", strerror(error));
    } else {
        log_line(HAMMER_PLUGIN_HOST_LEVEL_INFO, "read_file: ALLOWED");
    }
}

bool exports_hammer_plugin_hook_setup(exports_hammer_plugin_hook_options_t *options,
                                      exports_hammer_plugin_hook_list_subscription_t *ret, plugin_string_t *err) {
    (void)err;
    exports_hammer_plugin_hook_options_free(options);
    try_read();
    ret->ptr = xmalloc(sizeof *ret->ptr);
    ret->ptr[0] = (exports_hammer_plugin_hook_subscription_t){.phase = HAMMER_PLUGIN_TYPES_PHASE_BEFORE_TRAIN, .every = 1};
    ret->len = 1;
    return true;
}

bool exports_hammer_plugin_hook_on_phase(exports_hammer_plugin_hook_phase_t phase, plugin_string_t *err) {
    (void)phase;
    (void)err;
    try_read();
    return true;
}

void exports_hammer_plugin_hook_save_state(plugin_list_u8_t *ret) {
    ret->ptr = NULL;
    ret->len = 0;
}

bool exports_hammer_plugin_hook_load_state(plugin_list_u8_t *state, plugin_string_t *err) {
    (void)err;
    plugin_list_u8_free(state);
    return true;
}
