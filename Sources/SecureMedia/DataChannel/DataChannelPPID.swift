/// SCTP payload protocol identifiers of WebRTC data channels (RFC 8831 §8, RFC 8832 §8.1).
public enum DataChannelPPID {
    /// WebRTC DCEP (RFC 8832).
    public static let dcep: UInt32 = 50
    /// WebRTC String (UTF-8).
    public static let string: UInt32 = 51
    /// WebRTC String Partial (deprecated; RFC 8831 §8 says receivers may still see it).
    public static let stringPartial: UInt32 = 52
    /// WebRTC Binary.
    public static let binary: UInt32 = 53
    /// WebRTC Binary Partial (deprecated).
    public static let binaryPartial: UInt32 = 54
    /// WebRTC String Empty: an empty string, sent as one byte (RFC 8831 §6.6).
    public static let stringEmpty: UInt32 = 56
    /// WebRTC Binary Empty: an empty binary message, sent as one byte.
    public static let binaryEmpty: UInt32 = 57
}
