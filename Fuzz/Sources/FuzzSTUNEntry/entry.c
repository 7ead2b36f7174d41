// Entry point for the FuzzSTUN executable.
//
// SwiftPM (tools version >= 5.5, Linux) compiles an executable target with
// `-entry-point-function-name FuzzSTUN_main` and links it with `--defsym main=FuzzSTUN_main`,
// so that tests can link against executables. A libFuzzer target has no Swift `main` (libFuzzer
// supplies one), so that link fails with "undefined symbol 'FuzzSTUN_main'". This file defines
// FuzzSTUN_main and hands control to libFuzzer's documented driver entry point, which then calls
// LLVMFuzzerTestOneInput from FuzzSTUN.swift exactly as libFuzzer's own main() would.
#include "FuzzSTUNEntry.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int FuzzSTUN_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
