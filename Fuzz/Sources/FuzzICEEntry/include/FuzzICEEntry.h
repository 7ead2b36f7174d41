#ifndef FUZZ_ICE_ENTRY_H
#define FUZZ_ICE_ENTRY_H

/// The program entry point SwiftPM links as `main` for the FuzzICE executable; see entry.c.
int FuzzICE_main(int argc, char **argv);

#endif
