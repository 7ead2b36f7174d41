// Entry point for the FuzzICE executable; the same shim as FuzzSTUNEntry/entry.c.
//
// SwiftPM (tools version >= 5.5, Linux) compiles an executable target with
// `-entry-point-function-name FuzzICE_main` and links it with `--defsym main=FuzzICE_main`.
// A libFuzzer target has no Swift `main` (libFuzzer supplies one), so this file defines
// FuzzICE_main and hands control to libFuzzer's documented driver entry point, which then calls
// LLVMFuzzerTestOneInput from FuzzICE.swift exactly as libFuzzer's own main() would.
#include "FuzzICEEntry.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int FuzzICE_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
