#include "CLibFuzzerEntry.h"

#include <stddef.h>
#include <stdint.h>

// Defined by each fuzzer, in Swift, with @_cdecl.
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// libFuzzer's entry point for programs with a main of their own (libclang_rt.fuzzer).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int pushwave_run_libfuzzer(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
