public import NIOCore

/// Cuts H.264 access units (Annex B) into RTP payloads, packetization-mode 1 (RFC 6184 §6.3).
///
/// - NAL units that fit the payload budget go out as single NAL unit packets (§5.6).
/// - Runs of SPS and PPS are aggregated into one STAP-A (§5.7.1) and every IDR is preceded by
///   them: if the encoder's access unit lacks them before its first IDR slice, the last ones
///   seen are inserted (a receiver that joins or lost them can decode the keyframe).
/// - NAL units larger than the budget are fragmented into FU-A packets (§5.8) of near-equal
///   size, with S on the first and E on the last fragment and the NRI of the NAL unit kept.
/// - Access unit delimiters and filler data are dropped (they carry nothing a receiver
///   needs, §5.3 allows dropping type 12).
/// - The caller sets the marker bit on the packet flagged last (§5.1) and the 90 kHz
///   timestamp of the access unit on every packet.
///
/// Packetizing allocates nothing in the steady state: the work arrays are kept between
/// access units and payloads are written straight into the caller's packet buffer.
public struct H264Packetizer: Sendable {
    /// RFC 6184 payloads are sent with a 90 kHz clock (§8.2.1).
    public static let clockRate: UInt32 = 90_000
    /// The default RTP payload budget in bytes.
    public static let defaultMaxPayloadSize = 1200

    /// The largest RTP payload to produce (the MTU minus IP/UDP, RTP header, header
    /// extensions and SRTP tag). At least 3 so FU-A can make progress.
    public var maxPayloadSize: Int {
        didSet { precondition(maxPayloadSize >= 3) }
    }

    /// The last sequence and picture parameter sets seen, inserted before IDRs that lack them.
    public private(set) var lastSPS: [UInt8]?
    public private(set) var lastPPS: [UInt8]?

    /// NAL units dropped because they are access unit delimiters or filler data.
    public private(set) var droppedNALUnits = 0

    private enum Unit: Sendable {
        case frame(Range<Int>)
        case storedSPS
        case storedPPS
    }

    private var units: [Unit] = []

    public init(maxPayloadSize: Int = H264Packetizer.defaultMaxPayloadSize) {
        precondition(maxPayloadSize >= 3)
        self.maxPayloadSize = maxPayloadSize
        units.reserveCapacity(16)
    }

    /// Packetizes one access unit.
    /// - Parameters:
    ///   - annexB: the access unit as an Annex B byte stream (readable bytes).
    ///   - emit: called once per RTP payload, in order, with whether it is the last of the
    ///     access unit (marker bit) and a function that appends the payload to a buffer.
    /// - Returns: the number of payloads emitted (0 when the access unit holds no NAL unit
    ///   worth sending).
    @discardableResult
    public mutating func packetize(
        annexB: ByteBuffer, emit: (_ isLast: Bool, _ writePayload: (inout ByteBuffer) -> Void) -> Void
    ) -> Int {
        annexB.withUnsafeReadableBytes { raw in packetize(raw, emit: emit) }
    }

    /// Packetizes one access unit given as raw Annex B bytes; see `packetize(annexB:emit:)`.
    @discardableResult
    public mutating func packetize(
        _ raw: UnsafeRawBufferPointer, emit: (_ isLast: Bool, _ writePayload: (inout ByteBuffer) -> Void) -> Void
    ) -> Int {
        let budget = maxPayloadSize
        return packetize(raw) { isLast, writePayload in
            // The payload writer is only called during `emit`, never kept.
            withoutActuallyEscaping(writePayload) { writePayload in
                emit(isLast) { buffer in
                    buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: budget) { writePayload($0) }
                }
            }
        }
    }

    /// Packetizes one access unit given as raw Annex B bytes, writing payloads into memory the
    /// caller provides: the send path's form, with no buffer bookkeeping per payload.
    /// - Parameters:
    ///   - raw: the access unit, Annex B.
    ///   - emit: called once per RTP payload, in order, with whether it is the last of the
    ///     access unit and a function that writes the payload at the start of the memory it is
    ///     given (at least `maxPayloadSize` bytes) and returns its length.
    /// - Returns: the number of payloads emitted.
    @discardableResult
    public mutating func packetize(
        _ raw: UnsafeRawBufferPointer,
        writing emit: (_ isLast: Bool, _ writePayload: (UnsafeMutableRawBufferPointer) -> Int) -> Void
    ) -> Int {
        collectUnits(raw)
        defer { units.removeAll(keepingCapacity: true) }
        var emitted = 0
        var index = 0
        let budget = maxPayloadSize
        while index < units.count {
            // A run of parameter sets that fits one STAP-A (§5.7.1: 1 byte STAP-A header, then
            // a 16-bit size before each NAL unit).
            var runEnd = index
            var stapSize = 1
            while runEnd < units.count, isParameterSet(units[runEnd], raw) {
                let size = 2 + length(units[runEnd])
                guard stapSize + size <= budget else { break }
                stapSize += size
                runEnd += 1
            }
            if runEnd - index >= 2 {
                let range = index..<runEnd
                let isLast = runEnd == units.count
                let total = stapSize
                emit(isLast) { out in
                    precondition(out.count >= total)
                    // §5.7: F is the OR and NRI the maximum of the aggregated units'.
                    var forbidden: UInt8 = 0
                    var nri: UInt8 = 0
                    for i in range {
                        let byte = firstByte(units[i], raw)
                        forbidden |= byte & 0x80
                        nri = max(nri, byte & 0x60)
                    }
                    out[0] = forbidden | nri | H264NALType.stapA
                    var at = 1
                    for i in range {
                        let size = length(units[i])
                        out.storeBytes(of: UInt16(size).bigEndian, toByteOffset: at, as: UInt16.self)
                        copy(units[i], raw, from: 0, count: size, to: out.baseAddress! + at + 2)
                        at += 2 + size
                    }
                    return at
                }
                emitted += 1
                index = runEnd
                continue
            }
            let unit = units[index]
            let size = length(unit)
            let isLastUnit = index == units.count - 1
            if size <= budget {
                emit(isLastUnit) { out in
                    precondition(out.count >= size)
                    copy(unit, raw, from: 0, count: size, to: out.baseAddress!)
                    return size
                }
                emitted += 1
            } else {
                // §5.8: FU indicator (F, NRI, type 28), FU header (S, E, R, type), fragment.
                let nalHeader = firstByte(unit, raw)
                let indicator = nalHeader & 0xE0 | H264NALType.fuA
                let type = H264NALType.of(nalHeader)
                let body = size - 1
                let perPacket = budget - 2
                let count = (body + perPacket - 1) / perPacket
                let base = body / count
                let extra = body % count
                var at = 1
                for k in 0..<count {
                    let fragment = base + (k < extra ? 1 : 0)
                    let start = k == 0
                    let end = k == count - 1
                    let from = at
                    let header = (start ? 0x80 : 0) | (end ? 0x40 : 0) | type
                    emit(isLastUnit && end) { out in
                        precondition(out.count >= fragment + 2)
                        out[0] = indicator
                        out[1] = header
                        copy(unit, raw, from: from, count: fragment, to: out.baseAddress! + 2)
                        return fragment + 2
                    }
                    at += fragment
                    emitted += 1
                }
            }
            index += 1
        }
        return emitted
    }

    /// Finds the NAL units, drops AUD and filler, remembers parameter sets and inserts the
    /// stored ones before an IDR that lacks them.
    private mutating func collectUnits(_ raw: UnsafeRawBufferPointer) {
        var sawSPS = false
        var sawPPS = false
        var insertedBeforeIDR = false
        H264AnnexB.forEachNALUnit(in: raw) { range in
            let type = H264NALType.of(raw[range.lowerBound])
            switch type {
            case H264NALType.accessUnitDelimiter, H264NALType.filler:
                droppedNALUnits += 1
                return
            case H264NALType.sps:
                sawSPS = true
                if !Self.equal(lastSPS, raw, range) { lastSPS = Array(raw[range]) }
            case H264NALType.pps:
                sawPPS = true
                if !Self.equal(lastPPS, raw, range) { lastPPS = Array(raw[range]) }
            case H264NALType.idrSlice where !insertedBeforeIDR:
                insertedBeforeIDR = true
                if !sawSPS, lastSPS != nil { units.append(.storedSPS) }
                if !sawPPS, lastPPS != nil { units.append(.storedPPS) }
            default: break
            }
            units.append(.frame(range))
        }
    }

    private static func equal(_ stored: [UInt8]?, _ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard let stored, stored.count == range.count else { return false }
        return stored.withUnsafeBytes { $0.elementsEqual(UnsafeRawBufferPointer(rebasing: raw[range])) }
    }

    private func length(_ unit: Unit) -> Int {
        switch unit {
        case .frame(let range): return range.count
        case .storedSPS: return lastSPS?.count ?? 0
        case .storedPPS: return lastPPS?.count ?? 0
        }
    }

    private func firstByte(_ unit: Unit, _ raw: UnsafeRawBufferPointer) -> UInt8 {
        switch unit {
        case .frame(let range): return raw[range.lowerBound]
        case .storedSPS: return lastSPS![0]
        case .storedPPS: return lastPPS![0]
        }
    }

    private func isParameterSet(_ unit: Unit, _ raw: UnsafeRawBufferPointer) -> Bool {
        let type = H264NALType.of(firstByte(unit, raw))
        return type == H264NALType.sps || type == H264NALType.pps
    }

    /// Copies `count` bytes of a unit, from its byte `from`, to `destination`.
    @inline(__always)
    private func copy(_ unit: Unit, _ raw: UnsafeRawBufferPointer, from: Int, count: Int, to destination: UnsafeMutableRawPointer) {
        switch unit {
        case .frame(let range):
            destination.copyMemory(from: raw.baseAddress! + range.lowerBound + from, byteCount: count)
        case .storedSPS:
            lastSPS!.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + from, byteCount: count) }
        case .storedPPS:
            lastPPS!.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + from, byteCount: count) }
        }
    }
}
