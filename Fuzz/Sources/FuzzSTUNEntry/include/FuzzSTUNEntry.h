#ifndef FUZZ_STUN_ENTRY_H
#define FUZZ_STUN_ENTRY_H

/// The program entry point SwiftPM links as `main` for the FuzzSTUN executable; see entry.c.
int FuzzSTUN_main(int argc, char **argv);

#endif
