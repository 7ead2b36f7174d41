import NIOCore

/// The body of one RTCP packet (after its 4-byte common header, without padding), with the
/// offset of its first byte in the compound packet so that errors can point at bytes.
/// Accessors take offsets relative to the body; callers check the size with `require` first.
struct RTCPBody {
    let bytes: ByteBuffer
    /// Offset of the body's first byte in the compound packet.
    let offset: Int
    /// The 5-bit count / format field of the common header.
    let count: UInt8
    /// Short name of the packet kind for error fields (`SR`, `NACK`, ...).
    let name: String

    var size: Int { bytes.readableBytes }

    func require(_ bytes: Int, _ field: String) throws(RTCPParseError) {
        guard size >= bytes else {
            throw RTCPParseError(.bodyTooShort, field: "\(name).\(field)", offset: offset + size)
        }
    }

    func fail(_ code: RTCPParseError.Code, _ field: String, at: Int) -> RTCPParseError {
        RTCPParseError(code, field: "\(name).\(field)", offset: offset + at)
    }

    func u8(_ at: Int) -> UInt8 { bytes.getInteger(at: bytes.readerIndex + at, as: UInt8.self)! }
    func u16(_ at: Int) -> UInt16 { bytes.getInteger(at: bytes.readerIndex + at, as: UInt16.self)! }
    func u32(_ at: Int) -> UInt32 { bytes.getInteger(at: bytes.readerIndex + at, as: UInt32.self)! }
    func u64(_ at: Int) -> UInt64 { bytes.getInteger(at: bytes.readerIndex + at, as: UInt64.self)! }
    func slice(_ at: Int, _ length: Int) -> ByteBuffer { bytes.getSlice(at: bytes.readerIndex + at, length: length)! }
    func array(_ at: Int, _ length: Int) -> [UInt8] { bytes.getBytes(at: bytes.readerIndex + at, length: length)! }
}

/// Writes the RTCP common header (RFC 3550 §6.4.1) and, in `finish`, the length in 32-bit
/// words minus one once the body is written. Bodies must end on a 32-bit boundary.
struct RTCPHeaderWriter {
    private let start: Int

    init(count: UInt8, packetType: UInt8, into buffer: inout ByteBuffer) {
        precondition(count <= 31)
        start = buffer.writerIndex
        buffer.writeInteger(UInt8(2 << 6) | count)
        buffer.writeInteger(packetType)
        buffer.writeInteger(UInt16(0))
    }

    /// Appends zero bytes up to the next 32-bit boundary of the packet.
    func padToWord(into buffer: inout ByteBuffer) {
        buffer.writeRepeatingByte(0, count: (4 - (buffer.writerIndex - start) % 4) % 4)
    }

    func finish(into buffer: inout ByteBuffer) {
        let length = buffer.writerIndex - start
        precondition(length % 4 == 0, "RTCP packets end on a 32-bit boundary")
        buffer.setInteger(UInt16(length / 4 - 1), at: start + 2)
    }
}
