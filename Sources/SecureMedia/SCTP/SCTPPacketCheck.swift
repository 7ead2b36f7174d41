/// A structural check of an inbound SCTP packet before usrsctp sees it, so that malformed
/// packets are refused with a typed error and counted by us (usrsctp drops them silently).
///
/// RFC 4960 §3.1: a 12-byte common header (source port, destination port, verification tag,
/// CRC32c), then chunks. §3.2: each chunk is type (1), flags (1), length (2, including the
/// 4-byte header, excluding padding), padded to a multiple of 4 bytes; the padding of the last
/// chunk may be absent. RFC 8261 §5: over DTLS the ports are the ones from SDP
/// (`a=sctp-port`, default 5000). The checksum and everything inside chunks is left to
/// usrsctp, which verifies the CRC32c and the chunk contents itself.
public enum SCTPPacketCheck {
    /// The common header length (RFC 4960 §3.1).
    public static let commonHeaderLength = 12

    /// The chunk types of a well-formed packet, in order.
    ///
    /// - Parameters:
    ///   - packet: one SCTP packet as carried by one DTLS record.
    ///   - localPort: our SCTP port; the packet's destination port must equal it.
    ///   - remotePort: the peer's SCTP port; the packet's source port must equal it.
    /// - Returns: the chunk type bytes.
    /// - Throws: ``SCTPError`` with the field and byte offset that failed.
    public static func validate<Bytes: RandomAccessCollection<UInt8>>(
        _ packet: Bytes, localPort: UInt16, remotePort: UInt16
    ) throws(SCTPError) -> [UInt8] where Bytes.Index == Int {
        let start = packet.startIndex
        let count = packet.count
        guard count >= commonHeaderLength else {
            throw SCTPError(.truncatedPacket, field: "commonHeader", offset: 0)
        }
        func u16(_ offset: Int) -> UInt16 {
            UInt16(packet[start + offset]) << 8 | UInt16(packet[start + offset + 1])
        }
        guard u16(0) == remotePort else { throw SCTPError(.wrongPort, field: "sourcePort", offset: 0) }
        guard u16(2) == localPort else { throw SCTPError(.wrongPort, field: "destinationPort", offset: 2) }
        var offset = commonHeaderLength
        var types: [UInt8] = []
        while offset < count {
            guard count - offset >= 4 else {
                throw SCTPError(.truncatedChunk, field: "chunk[\(types.count)]", offset: offset)
            }
            let length = Int(u16(offset + 2))
            guard length >= 4, length <= count - offset else {
                throw SCTPError(.badChunkLength, field: "chunk[\(types.count)].length", offset: offset + 2)
            }
            types.append(packet[start + offset])
            let padded = (length + 3) & ~3
            offset += min(padded, count - offset)
        }
        guard !types.isEmpty else { throw SCTPError(.noChunks, field: "chunks", offset: commonHeaderLength) }
        return types
    }
}
