/* nocfi.c -- void* rel_nocfi_alloc(size_t n, void* fake_fp): calls malloc(n)
 * from a function written in top-level assembly, so it has NO unwind info (no
 * .cfi directives, no .eh_frame entry), and with %rbp set to fake_fp (the test
 * passes an address inside a PROT_NONE page, or NULL): an unwinder that trusts
 * frame pointers, or falls back to them, walks into a guard page. It must
 * stop, never fault. x86-64 only. */
__asm__(
    "  .text\n"
    "  .globl rel_nocfi_alloc\n"
    "  .type rel_nocfi_alloc, @function\n"
    "rel_nocfi_alloc:\n"
    "  push %rbp\n"
    "  mov %rsi, %rbp\n"
    "  call malloc@PLT\n"
    "  pop %rbp\n"
    "  ret\n"
    "  .size rel_nocfi_alloc, .-rel_nocfi_alloc\n");
