// ICEAgent: Interactive Connectivity Establishment (RFC 8445) for Pod Arcade.
//
// Engines here are sans-IO value types (time comes in as a `NIODeadline`); sockets live only in
// the files under `Transport/`.
