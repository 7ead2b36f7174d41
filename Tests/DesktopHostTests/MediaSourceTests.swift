import COpus
import Foundation
import Testing

@testable import DesktopHost

@Suite("Desktop media sources")
struct MediaSourceTests {
    static var clipURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("interop/media/testsrc2-360p30-baseline.h264")
    }

    @Test("The committed clip splits into 90 pictures with an IDR, SPS and PPS every 30")
    func clipSplits() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.clipURL))
        let units = H264StreamSplitter.split(bytes)
        #expect(units.count == 90)
        #expect(units.indices.filter { units[$0].isKeyframe } == [0, 30, 60])
        for unit in units where unit.isKeyframe {
            let types = H264StreamSplitter.nalUnitRanges(unit.annexB).map { unit.annexB[$0.payloadStart] & 0x1F }
            #expect(types.contains(7) && types.contains(8) && types.contains(5))
        }
        // Nothing is lost: every NAL unit of the stream is in exactly one access unit.
        let total = H264StreamSplitter.nalUnitRanges(bytes).count
        #expect(units.reduce(0) { $0 + H264StreamSplitter.nalUnitRanges($1.annexB).count } == total)
    }

    @Test("Start codes of three and four bytes and trailing zeros are handled")
    func startCodes() {
        let stream: [UInt8] = [0xFF, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 0x88, 9, 0, 0,
                               0, 0, 1, 0x41, 0x9A, 7]
        let units = H264StreamSplitter.split(stream)
        #expect(units.count == 2)
        #expect(units[0] == EncodedVideoFrame(annexB: [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 0x88, 9], isKeyframe: true))
        #expect(units[1] == EncodedVideoFrame(annexB: [0, 0, 0, 1, 0x41, 0x9A, 7], isKeyframe: false))
        #expect(H264StreamSplitter.split([0, 0, 1]).isEmpty)
        #expect(H264StreamSplitter.split([]).isEmpty)
    }

    @Test("A 440 Hz tone encoded with libopus decodes back to 440 Hz")
    func toneRoundTrip() throws {
        let encoder = try OpusEncoder(channels: 2, bitrate: 64_000)
        var tone = ToneGenerator(frequency: 440)
        var error: Int32 = 0
        let decoder = try #require(opus_decoder_create(48_000, 2, &error))
        defer { opus_decoder_destroy(decoder) }
        var decoded: [Int16] = []
        for _ in 0..<50 {  // one second of 20 ms frames
            let packet = try encoder.encode(tone.next(samplesPerChannel: 960))
            #expect(packet.count > 10 && packet.count < 400)
            var pcm = [Int16](repeating: 0, count: 960 * 2)
            let samples = opus_decode(decoder, packet, Int32(packet.count), &pcm, 960, 0)
            #expect(samples == 960)
            decoded += pcm
        }
        // Count rising zero crossings of the left channel over the last half second.
        let left = stride(from: 48_000, to: decoded.count, by: 2).map { decoded[$0] }
        var crossings = 0
        for n in 1..<left.count where left[n - 1] < 0 && left[n] >= 0 { crossings += 1 }
        #expect(abs(crossings - 220) <= 3, "\(crossings) crossings in 0.5 s")
    }

    @Test("Frame sizes libopus cannot encode are refused with the allowed list")
    func badFrameSize() throws {
        let encoder = try OpusEncoder()
        #expect(throws: OpusEncoder.Error.frameSize(samples: 100, expected: OpusEncoder.frameSizes)) {
            try encoder.encode([Int16](repeating: 0, count: 200))
        }
    }
}
