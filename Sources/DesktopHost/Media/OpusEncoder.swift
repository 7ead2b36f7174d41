import COpus

/// An Opus encoder (libopus) for 48 kHz interleaved 16-bit PCM, as WebRTC sends it
/// (RFC 7587 §4: the RTP clock is always 48 kHz; §7 stereo signalled by `stereo=1`).
///
/// Not thread-safe: one owner encodes at a time. The encoder state is freed on deinit.
public final class OpusEncoder {
    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case create(code: Int32)
        case setting(name: String, code: Int32)
        case encode(code: Int32)
        case frameSize(samples: Int, expected: [Int])

        public var description: String {
            switch self {
            case .create(let code): "opus_encoder_create failed: \(String(cString: opus_strerror(code)))"
            case .setting(let name, let code): "opus \(name) failed: \(String(cString: opus_strerror(code)))"
            case .encode(let code): "opus_encode failed: \(String(cString: opus_strerror(code)))"
            case .frameSize(let samples, let expected):
                "Opus frame of \(samples) samples per channel; allowed at 48 kHz: \(expected)"
            }
        }
    }

    public static let sampleRate = 48_000
    /// Frame sizes libopus accepts at 48 kHz: 2.5, 5, 10, 20, 40, 60 ms.
    public static let frameSizes = [120, 240, 480, 960, 1920, 2880]

    public let channels: Int
    private let encoder: OpaquePointer
    private var output = [UInt8](repeating: 0, count: 1500)

    /// - Parameters:
    ///   - channels: 1 or 2.
    ///   - bitrate: bits per second (e.g. 64,000 for music-grade stereo).
    ///   - inbandFEC: RFC 7587 §3.3 in-band forward error correction (`useinbandfec=1`).
    public init(channels: Int = 2, bitrate: Int32 = 64_000, inbandFEC: Bool = true) throws(Error) {
        self.channels = channels
        var code: Int32 = 0
        guard let encoder = opus_encoder_create(Int32(Self.sampleRate), Int32(channels), OPUS_APPLICATION_AUDIO, &code),
            code == OPUS_OK
        else { throw .create(code: code) }
        self.encoder = encoder
        var result = pa_opus_set_bitrate(encoder, bitrate)
        guard result == OPUS_OK else { throw .setting(name: "OPUS_SET_BITRATE", code: result) }
        result = pa_opus_set_inband_fec(encoder, inbandFEC ? 1 : 0)
        guard result == OPUS_OK else { throw .setting(name: "OPUS_SET_INBAND_FEC", code: result) }
        if inbandFEC {
            result = pa_opus_set_packet_loss_perc(encoder, 5)
            guard result == OPUS_OK else { throw .setting(name: "OPUS_SET_PACKET_LOSS_PERC", code: result) }
        }
    }

    deinit { opus_encoder_destroy(encoder) }

    /// Encodes one frame of interleaved samples (`frameSize × channels` values).
    public func encode(_ pcm: [Int16]) throws(Error) -> [UInt8] {
        let samples = pcm.count / channels
        guard Self.frameSizes.contains(samples), pcm.count == samples * channels else {
            throw .frameSize(samples: samples, expected: Self.frameSizes)
        }
        let capacity = Int32(output.count)
        let length = pcm.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                opus_encode(encoder, input.baseAddress!, Int32(samples), out.baseAddress!, capacity)
            }
        }
        guard length >= 0 else { throw .encode(code: length) }
        return Array(output[0..<Int(length)])
    }
}
