public import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// H.264 NAL unit types (ITU-T H.264 Table 7-1) and RTP payload structure types (RFC 6184
/// §5.2) that the packetizers act on.
public enum H264NALType {
    public static let nonIDRSlice: UInt8 = 1
    public static let idrSlice: UInt8 = 5
    public static let sei: UInt8 = 6
    public static let sps: UInt8 = 7
    public static let pps: UInt8 = 8
    public static let accessUnitDelimiter: UInt8 = 9
    public static let filler: UInt8 = 12
    /// RFC 6184 §5.7.1.
    public static let stapA: UInt8 = 24
    /// RFC 6184 §5.8.
    public static let fuA: UInt8 = 28

    /// The type in the low 5 bits of a NAL unit header.
    @inline(__always)
    public static func of(_ header: UInt8) -> UInt8 { header & 0x1F }
}

/// The Annex B byte stream format (ITU-T H.264 Annex B): NAL units each preceded by a 3-byte
/// (`00 00 01`) or 4-byte (`00 00 00 01`) start code, possibly with zero bytes in between.
public enum H264AnnexB {
    /// Calls `body` with the range of each NAL unit in `bytes`, in order, without copying.
    /// Leading bytes before the first start code and trailing zero bytes of each unit
    /// (`trailing_zero_8bits`, the first zero of a 4-byte start code) are not part of a unit;
    /// empty units are skipped.
    public static func forEachNALUnit(in bytes: UnsafeRawBufferPointer, _ body: (Range<Int>) -> Void) {
        let n = bytes.count
        var unitStart = -1
        @inline(__always) func close(_ end: Int) {
            guard unitStart >= 0 else { return }
            var e = end
            while e > unitStart && bytes[e - 1] == 0 { e -= 1 }
            if e > unitStart { body(unitStart..<e) }
        }
        // A start code ends in 01: let memchr (vectorised in libc) find each 01 byte, then look
        // at the two bytes before it. Compressed slice data holds a 01 byte about once in 256.
        guard let base = bytes.baseAddress else { return }
        var i = 2
        while i < n, let found = memchr(base + i, 1, n - i) {
            let j = base.distance(to: UnsafeRawPointer(found))
            if bytes[j - 1] == 0 && bytes[j - 2] == 0 {
                close(j - 2)
                unitStart = j + 1
            }
            i = j + 1
        }
        close(n)
    }

    /// The NAL units of `stream` as slices of it (no copy).
    public static func nalUnits(in stream: ByteBuffer) -> [ByteBuffer] {
        var ranges: [Range<Int>] = []
        stream.withUnsafeReadableBytes { raw in forEachNALUnit(in: raw) { ranges.append($0) } }
        return ranges.map { stream.getSlice(at: stream.readerIndex + $0.lowerBound, length: $0.count)! }
    }

    /// Writes `units` as an Annex B stream with 4-byte start codes.
    public static func encode(_ units: [ByteBuffer], into buffer: inout ByteBuffer) {
        for unit in units {
            buffer.writeInteger(UInt32(1))
            buffer.writeImmutableBuffer(unit)
        }
    }
}
