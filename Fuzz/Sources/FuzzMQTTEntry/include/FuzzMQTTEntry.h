#ifndef FUZZ_MQTT_ENTRY_H
#define FUZZ_MQTT_ENTRY_H

/// The program entry point SwiftPM links as `main` for the FuzzMQTT executable; see entry.c.
int FuzzMQTT_main(int argc, char **argv);

#endif
