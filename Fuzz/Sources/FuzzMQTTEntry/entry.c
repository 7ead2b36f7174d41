// Entry point for the FuzzMQTT executable; the same shim as FuzzSTUNEntry/entry.c.
//
// SwiftPM (tools version >= 5.5, Linux) compiles an executable target with
// `-entry-point-function-name FuzzMQTT_main` and links it with `--defsym main=FuzzMQTT_main`.
// A libFuzzer target has no Swift `main` (libFuzzer supplies one), so this file defines
// FuzzMQTT_main and hands control to libFuzzer's documented driver entry point, which then calls
// LLVMFuzzerTestOneInput from FuzzMQTT.swift exactly as libFuzzer's own main() would.
#include "FuzzMQTTEntry.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int FuzzMQTT_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
