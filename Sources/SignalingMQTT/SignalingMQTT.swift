/// MQTT 3.1.1 and 5.0 for Pod Arcade signaling: the packet codec (`Codec/`), topic names and
/// filters (`Topics/`), the sans-IO broker (`Broker/`) and the Pod Arcade topic and access
/// rules of protocol.md (`PodArcade/`).
public enum SignalingMQTT {}
