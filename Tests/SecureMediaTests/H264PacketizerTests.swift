import Foundation
import NIOCore
import Testing

@testable import SecureMedia

/// A packet produced by a packetizer, with the fields the tests check.
struct H264TestPacket {
    var marker: Bool
    var payload: [UInt8]
}

extension H264Packetizer {
    mutating func packets(_ annexB: [UInt8]) -> [H264TestPacket] {
        var out: [H264TestPacket] = []
        packetize(annexB: ByteBuffer(bytes: annexB)) { isLast, write in
            var buffer = ByteBuffer()
            write(&buffer)
            out.append(H264TestPacket(marker: isLast, payload: Array(buffer.readableBytesView)))
        }
        return out
    }
}

enum H264Fixture {
    /// 25 frames of ffmpeg's testsrc, 320x240, libx264 baseline, keyint 10, with AUDs:
    /// `ffmpeg -f lavfi -i testsrc=size=320x240:rate=25 -t 1 -c:v libx264 -profile:v baseline
    /// -pix_fmt yuv420p -x264-params keyint=10:aud=1 -bsf:v h264_mp4toannexb -f h264`.
    static func stream() throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "testsrc-320x240-baseline", withExtension: "h264", subdirectory: "Fixtures"))
        return Array(try Data(contentsOf: url))
    }

    /// The stream cut into access units at each access unit delimiter (type 9).
    static func accessUnits(_ stream: [UInt8]) -> [[UInt8]] {
        var starts: [Int] = []
        var i = 0
        while i + 4 < stream.count {
            if stream[i] == 0, stream[i + 1] == 0, stream[i + 2] == 0, stream[i + 3] == 1, stream[i + 4] & 0x1F == 9 {
                starts.append(i)
                i += 4
            } else if stream[i] == 0, stream[i + 1] == 0, stream[i + 2] == 1, stream[i + 3] & 0x1F == 9,
                i == 0 || stream[i - 1] != 0
            {
                starts.append(i)
                i += 3
            } else {
                i += 1
            }
        }
        return starts.enumerated().map { k, start in
            Array(stream[start..<(k + 1 < starts.count ? starts[k + 1] : stream.count)])
        }
    }

    static func nalUnits(_ annexB: [UInt8]) -> [[UInt8]] {
        H264AnnexB.nalUnits(in: ByteBuffer(bytes: annexB)).map { Array($0.readableBytesView) }
    }
}

@Suite("H.264 packetization (RFC 6184)")
struct H264PacketizerTests {
    @Test("The Annex B splitter handles 3- and 4-byte start codes, leading bytes and trailing zeros")
    func annexBSplitter() {
        let stream: [UInt8] = [0xFF, 0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 0, 1, 0x65, 4, 0, 0, 3, 5, 0, 0]
        #expect(H264Fixture.nalUnits(stream) == [[0x67, 1, 2], [0x68, 3], [0x65, 4, 0, 0, 3, 5]])
        #expect(H264Fixture.nalUnits([]).isEmpty)
        #expect(H264Fixture.nalUnits([0, 0, 1]).isEmpty)
        #expect(H264Fixture.nalUnits([0, 0, 1, 0, 0, 1, 0x41]) == [[0x41]])
        #expect(H264Fixture.nalUnits([1, 2, 3]).isEmpty)
    }

    @Test("The ffmpeg fixture round trips NAL unit for NAL unit through packetizer and depacketizer")
    func fixtureRoundTrip() throws {
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        #expect(units.count == 25)
        var packetizer = H264Packetizer(maxPayloadSize: 1200)
        var depacketizer = H264Depacketizer()
        var seq: UInt16 = 65000
        var sawFUA = false
        for (index, unit) in units.enumerated() {
            let packets = packetizer.packets(unit)
            #expect(!packets.isEmpty)
            #expect(packets.allSatisfy { $0.payload.count <= 1200 })
            #expect(packets.map(\.marker) == Array(repeating: false, count: packets.count - 1) + [true])
            var rebuilt: [H264AccessUnit] = []
            for packet in packets {
                sawFUA = sawFUA || packet.payload[0] & 0x1F == 28
                let rtp = RTPPacket(
                    header: RTPHeader(marker: packet.marker, payloadType: 96, sequenceNumber: seq, timestamp: UInt32(index * 3600), ssrc: 1),
                    payload: ByteBuffer(bytes: packet.payload))
                seq &+= 1
                rebuilt += try depacketizer.push(rtp)
            }
            #expect(rebuilt.count == 1)
            let expected = H264Fixture.nalUnits(unit).filter { $0[0] & 0x1F != 9 && $0[0] & 0x1F != 12 }
            #expect(rebuilt.first?.nalUnits == expected, "access unit \(index)")
            #expect(rebuilt.first?.timestamp == UInt32(index * 3600))
        }
        #expect(sawFUA)
        #expect(packetizer.droppedNALUnits == 25)
        #expect(depacketizer.droppedAccessUnits == 0)
    }

    @Test("aiortc's packetization of the fixture (STAP-A with SEI, FU-A) depacketizes to the fixture's NAL units")
    func depacketizesAiortc() throws {
        let url = try #require(
            Bundle.module.url(forResource: "aiortc-1.16-h264-packets", withExtension: "txt", subdirectory: "Fixtures"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var accessUnits: [[[UInt8]]] = [[]]
        for line in lines where !line.hasPrefix("#") {
            if line.isEmpty {
                if !accessUnits[accessUnits.count - 1].isEmpty { accessUnits.append([]) }
            } else {
                accessUnits[accessUnits.count - 1].append(rtpHex(String(line)))
            }
        }
        if accessUnits.last?.isEmpty == true { accessUnits.removeLast() }
        #expect(accessUnits.count == 2)
        let expected = H264Fixture.accessUnits(try H264Fixture.stream()).prefix(2).map {
            H264Fixture.nalUnits($0).filter { $0[0] & 0x1F != 9 }
        }
        var depacketizer = H264Depacketizer()
        var seq: UInt16 = 0
        for (index, payloads) in accessUnits.enumerated() {
            var rebuilt: [H264AccessUnit] = []
            for (k, payload) in payloads.enumerated() {
                rebuilt += try depacketizer.push(Self.rtp(payload, seq: seq, ts: UInt32(index), marker: k == payloads.count - 1))
                seq &+= 1
            }
            #expect(rebuilt.map(\.nalUnits) == [expected[index]])
        }
    }

    @Test("SPS and PPS go out as one STAP-A right before the IDR")
    func stapABeforeIDR() throws {
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        var packetizer = H264Packetizer()
        let packets = packetizer.packets(units[0])
        let stap = packets[0].payload
        #expect(stap[0] & 0x1F == 24)
        #expect(stap[0] & 0x60 == 0x60)  // NRI: the maximum of SPS and PPS (3)
        var depacketizer = H264Depacketizer()
        let rtp = RTPPacket(
            header: RTPHeader(marker: true, payloadType: 96, sequenceNumber: 1, timestamp: 0, ssrc: 1), payload: ByteBuffer(bytes: stap))
        let unit = try #require(try depacketizer.push(rtp).first)
        #expect(unit.nalUnits.map { $0[0] & 0x1F } == [7, 8])
        // The fixture's IDR is SEI, then IDR slice after the STAP-A.
        #expect(packets.dropFirst().map { $0.payload[0] & 0x1F }.first == 6)
    }

    @Test("An IDR without SPS/PPS in its access unit gets the last ones seen inserted before it")
    func insertsParameterSets() throws {
        let units = H264Fixture.accessUnits(try H264Fixture.stream())
        var packetizer = H264Packetizer()
        _ = packetizer.packets(units[0])
        let sps = try #require(packetizer.lastSPS)
        let pps = try #require(packetizer.lastPPS)
        // Access unit 10 is the second IDR; strip its SPS and PPS.
        let nals = H264Fixture.nalUnits(units[10])
        #expect(nals.contains { $0[0] & 0x1F == 5 })
        let stripped = nals.filter { $0[0] & 0x1F != 7 && $0[0] & 0x1F != 8 }
        var annexB = ByteBuffer()
        H264AnnexB.encode(stripped.map { ByteBuffer(bytes: $0) }, into: &annexB)
        var depacketizer = H264Depacketizer()
        var rebuilt: [H264AccessUnit] = []
        for (i, packet) in packetizer.packets(Array(annexB.readableBytesView)).enumerated() {
            rebuilt += try depacketizer.push(
                RTPPacket(
                    header: RTPHeader(marker: packet.marker, payloadType: 96, sequenceNumber: UInt16(i), timestamp: 0, ssrc: 1),
                    payload: ByteBuffer(bytes: packet.payload)))
        }
        let types = try #require(rebuilt.first).nalUnits.map { $0[0] & 0x1F }
        #expect(types == [7, 8, 5])
        #expect(rebuilt[0].nalUnits.contains(sps))
        #expect(rebuilt[0].nalUnits.contains(pps))
        let spsIndex = try #require(rebuilt[0].nalUnits.firstIndex(of: sps))
        let idrIndex = try #require(rebuilt[0].nalUnits.firstIndex { $0[0] & 0x1F == 5 })
        #expect(spsIndex < idrIndex)
        // A non-IDR access unit gets nothing inserted.
        let plain = packetizer.packets(units[1])
        #expect(plain.allSatisfy { $0.payload[0] & 0x1F != 24 })
    }

    @Test("FU-A fragments carry S on the first, E on the last, the NRI and type, and fit the budget", arguments: [100, 301, 1200])
    func fuAFragments(budget: Int) throws {
        let body = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        let nal: [UInt8] = [0x65] + body  // NRI 3, IDR
        var packetizer = H264Packetizer(maxPayloadSize: budget)
        let packets = packetizer.packets([0, 0, 0, 1] + nal)
        #expect(packets.count == (nal.count - 1 + budget - 3) / (budget - 2))
        for (i, packet) in packets.enumerated() {
            #expect(packet.payload.count <= budget)
            #expect(packet.payload[0] == 0x60 | 28)
            #expect(packet.payload[1] & 0x1F == 5)
            #expect((packet.payload[1] & 0x80 != 0) == (i == 0))
            #expect((packet.payload[1] & 0x40 != 0) == (i == packets.count - 1))
            #expect(packet.marker == (i == packets.count - 1))
        }
        // Near-equal sizes: no tiny last fragment.
        let sizes = packets.map(\.payload.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
        #expect(Array(packets.flatMap { $0.payload.dropFirst(2) }) == body)
    }

    @Test("Small NAL units go out as single NAL unit packets, the marker on the last")
    func singleNALUnits() {
        var packetizer = H264Packetizer()
        let packets = packetizer.packets([0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x41, 1, 2, 0, 0, 1, 0x0C, 0xFF, 0, 0, 1, 0x41, 3])
        #expect(packets.map(\.payload) == [[0x41, 1, 2], [0x41, 3]])
        #expect(packets.map(\.marker) == [false, true])
        #expect(packetizer.droppedNALUnits == 2)
        #expect(packetizer.packets([0, 0, 1, 0x09, 0xF0]).isEmpty)
        #expect(packetizer.packets([]).isEmpty)
    }

    static func rtp(_ payload: [UInt8], seq: UInt16, ts: UInt32 = 0, marker: Bool = false) -> RTPPacket {
        RTPPacket(
            header: RTPHeader(marker: marker, payloadType: 96, sequenceNumber: seq, timestamp: ts, ssrc: 1),
            payload: ByteBuffer(bytes: payload))
    }

    @Test("A lost packet drops its access unit and is counted; the next one comes through")
    func lossDetection() throws {
        var depacketizer = H264Depacketizer()
        #expect(try depacketizer.push(Self.rtp([0x7C, 0x85, 1], seq: 10)).isEmpty)
        // seq 11 (the middle fragment) lost.
        #expect(try depacketizer.push(Self.rtp([0x7C, 0x45, 3], seq: 12, marker: true)).isEmpty)
        #expect(depacketizer.lostPackets == 1)
        #expect(depacketizer.droppedAccessUnits == 1)
        let next = try depacketizer.push(Self.rtp([0x41, 9], seq: 13, ts: 3000, marker: true))
        #expect(next.map(\.nalUnits) == [[[0x41, 9]]])
        // A late duplicate is ignored.
        #expect(try depacketizer.push(Self.rtp([0x41, 9], seq: 13, ts: 3000, marker: true)).isEmpty)
    }

    @Test("A timestamp change ends an access unit whose marker was lost")
    func timestampChangeEndsUnit() throws {
        var depacketizer = H264Depacketizer()
        #expect(try depacketizer.push(Self.rtp([0x41, 1], seq: 1, ts: 0)).isEmpty)
        let units = try depacketizer.push(Self.rtp([0x41, 2], seq: 2, ts: 3000, marker: true))
        #expect(units.map(\.nalUnits) == [[[0x41, 1]], [[0x41, 2]]])
        #expect(units.map(\.sawMarker) == [false, true])
    }

    static let badPayloads: [(String, [UInt8], H264DepacketizerError.Code, Int)] = [
        ("empty", [], .emptyPayload, 0),
        ("forbidden bit", [0xC1, 1], .forbiddenBit, 0),
        ("type 0", [0x00, 1], .unsupportedType, 0),
        ("STAP-B", [0x19, 0, 1, 0x41], .unsupportedType, 0),
        ("FU-B", [0x1D, 0x85, 1], .unsupportedType, 0),
        ("type 30", [0x1E], .unsupportedType, 0),
        ("STAP-A size past end", [0x18, 0, 5, 0x67, 1], .truncatedAggregate, 1),
        ("STAP-A zero size", [0x18, 0, 0, 0, 1, 0x67], .truncatedAggregate, 1),
        ("STAP-A odd trailing byte", [0x18, 0, 1, 0x67, 0], .truncatedAggregate, 4),
        ("STAP-A empty", [0x18], .truncatedAggregate, 1),
        ("FU-A without start", [0x7C, 0x05, 1], .fragmentWithoutStart, 1),
        ("FU-A end without start", [0x7C, 0x45, 1], .fragmentWithoutStart, 1),
        ("FU-A too short", [0x7C, 0x85], .truncatedFragment, 0),
        ("FU-A start and end", [0x7C, 0xC5, 1], .truncatedFragment, 1),
    ]

    @Test("Malformed payloads are rejected with a code, counted, and drop the access unit")
    func malformedPayloads() {
        for (name, payload, code, offset) in Self.badPayloads {
            var depacketizer = H264Depacketizer()
            do {
                _ = try depacketizer.push(Self.rtp(payload, seq: 1, marker: true))
                Issue.record("\(name) accepted")
            } catch {
                #expect(error.code == code, "\(name)")
                #expect(error.offset == offset, "\(name)")
            }
            #expect(depacketizer.malformedPayloads == 1)
            #expect(depacketizer.droppedAccessUnits == 1, "\(name)")
        }
    }

    @Test("An FU-A continuation of another NAL type is rejected")
    func inconsistentFragment() throws {
        var depacketizer = H264Depacketizer()
        _ = try depacketizer.push(Self.rtp([0x7C, 0x85, 1], seq: 1))
        #expect(throws: H264DepacketizerError(.inconsistentFragment, field: "fuA.header.type", offset: 1)) {
            try depacketizer.push(Self.rtp([0x7C, 0x41, 1], seq: 2, marker: true))
        }
    }

    @Test("Random payloads never crash the depacketizer (bounded loop)")
    func randomPayloads() {
        var random = RTPTestRandom(state: 99)
        var depacketizer = H264Depacketizer()
        var seq: UInt16 = 0
        for _ in 0..<20_000 {
            var payload = (0..<Int.random(in: 0..<24, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if !payload.isEmpty, Bool.random(using: &random) { payload[0] = [0x18, 0x7C, 0x41][Int.random(in: 0..<3, using: &random)] }
            seq &+= UInt16.random(in: 0...2, using: &random)
            _ = try? depacketizer.push(Self.rtp(payload, seq: seq, ts: UInt32(seq / 4), marker: Bool.random(using: &random)))
        }
        #expect(depacketizer.malformedPayloads > 0)
    }

    @Test("Random Annex B input never crashes the packetizer and every payload fits")
    func randomAnnexB() {
        var random = RTPTestRandom(state: 5)
        var packetizer = H264Packetizer(maxPayloadSize: 50)
        for _ in 0..<3000 {
            let alphabet: [UInt8] = [0, 0, 1, 0x65, 0x41, 0x67, 0x68, 0x09]
            let bytes = (0..<Int.random(in: 0..<400, using: &random)).map { _ in alphabet[Int.random(in: 0..<8, using: &random)] }
            for packet in packetizer.packets(bytes) { #expect(packet.payload.count <= 50) }
        }
    }
}
