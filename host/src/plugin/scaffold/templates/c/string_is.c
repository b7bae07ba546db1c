
/* Whether a (not NUL-terminated) string from the host equals `name`. */
static bool string_is(const plugin_string_t *s, const char *name) {
    return s->len == strlen(name) && (s->len == 0 || memcmp(s->ptr, name, s->len) == 0);
}
