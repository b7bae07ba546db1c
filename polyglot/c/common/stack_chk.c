/* Linked into every C plugin. Debian's compiler-rt for wasm32 was built with
 * a stack protector: its 128-bit arithmetic (`__int128` division, `long
 * double`) references these two, which wasi-libc does not define. Weak, so
 * a libc that defines them wins. A smashed stack traps the plugin. */
#include <stdint.h>

__attribute__((weak)) uintptr_t __stack_chk_guard = 0x5a3c9e17u;

__attribute__((weak, noreturn)) void __stack_chk_fail(void) {
    __builtin_trap();
}
