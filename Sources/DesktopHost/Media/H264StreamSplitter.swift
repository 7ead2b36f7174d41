/// One coded picture of an H.264 Annex B byte stream (ITU-T H.264 §7.4.1.2.3): the NAL units
/// that belong to it, each still preceded by its start code, as an encoder hands them out.
public struct EncodedVideoFrame: Sendable, Equatable {
    /// The access unit's bytes in Annex B form (start codes included).
    public var annexB: [UInt8]
    /// Whether it holds an IDR slice (NAL unit type 5), so a decoder can start here.
    public var isKeyframe: Bool

    public init(annexB: [UInt8], isKeyframe: Bool) {
        self.annexB = annexB
        self.isKeyframe = isKeyframe
    }
}

/// Splits an H.264 Annex B byte stream into access units.
///
/// Boundaries follow ITU-T H.264 §7.4.1.2.3: a new access unit starts at an access unit
/// delimiter, at SPS/PPS/SEI (types 6–9, 14–18) once the current unit already has a picture,
/// or at a VCL NAL unit (types 1–5) whose `first_mb_in_slice` is 0 when the current unit already
/// has one. `first_mb_in_slice` is the first ue(v) of the slice header; it is 0 exactly when the
/// first bit after the one-byte NAL header is 1.
public enum H264StreamSplitter {
    /// Every access unit of `stream`, in order. Bytes before the first start code are ignored.
    public static func split(_ stream: [UInt8]) -> [EncodedVideoFrame] {
        var units: [EncodedVideoFrame] = []
        var current: [UInt8] = []
        var currentHasPicture = false
        var currentIsKey = false
        for range in nalUnitRanges(stream) {
            let header = stream[range.payloadStart]
            let type = header & 0x1F
            let isVCL = (1...5).contains(type)
            let startsNew: Bool
            if isVCL {
                let firstMBIsZero = range.payloadStart + 1 < range.end && stream[range.payloadStart + 1] & 0x80 != 0
                startsNew = currentHasPicture && firstMBIsZero
            } else {
                startsNew = currentHasPicture && (type == 9 || (6...8).contains(type) || (14...18).contains(type))
            }
            if startsNew {
                units.append(EncodedVideoFrame(annexB: current, isKeyframe: currentIsKey))
                current = []
                currentHasPicture = false
                currentIsKey = false
            }
            current.append(contentsOf: [0, 0, 0, 1])
            current.append(contentsOf: stream[range.payloadStart..<range.end])
            if isVCL { currentHasPicture = true }
            if type == 5 { currentIsKey = true }
        }
        if currentHasPicture { units.append(EncodedVideoFrame(annexB: current, isKeyframe: currentIsKey)) }
        return units
    }

    struct NALRange {
        var payloadStart: Int
        var end: Int
    }

    /// The NAL units between start codes (`00 00 01` or `00 00 00 01`), without trailing zero
    /// bytes (ITU-T H.264 Annex B.2: trailing_zero_8bits). Empty NAL units are skipped.
    static func nalUnitRanges(_ bytes: [UInt8]) -> [NALRange] {
        var starts: [(codeStart: Int, payload: Int)] = []
        var index = 0
        while index + 2 < bytes.count {
            if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1 {
                let codeStart = index > 0 && bytes[index - 1] == 0 ? index - 1 : index
                starts.append((codeStart, index + 3))
                index += 3
            } else {
                index += 1
            }
        }
        var ranges: [NALRange] = []
        for (n, start) in starts.enumerated() {
            var end = n + 1 < starts.count ? starts[n + 1].codeStart : bytes.count
            while end > start.payload, bytes[end - 1] == 0 { end -= 1 }
            if end > start.payload { ranges.append(NALRange(payloadStart: start.payload, end: end)) }
        }
        return ranges
    }
}
