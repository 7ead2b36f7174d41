/// A sine tone as interleaved 16-bit PCM at 48 kHz: the desktop's test-pattern audio.
public struct ToneGenerator: Sendable {
    public let frequency: Double
    public let channels: Int
    public let amplitude: Double
    private var phase: Double = 0

    public init(frequency: Double = 440, channels: Int = 2, amplitude: Double = 0.25) {
        self.frequency = frequency
        self.channels = channels
        self.amplitude = amplitude
    }

    /// The next `samplesPerChannel` samples, the same value on every channel.
    public mutating func next(samplesPerChannel: Int) -> [Int16] {
        var pcm = [Int16](repeating: 0, count: samplesPerChannel * channels)
        let step = 2 * Double.pi * frequency / 48_000
        for n in 0..<samplesPerChannel {
            let value = Int16((sin(phase) * amplitude * Double(Int16.max)).rounded())
            for c in 0..<channels { pcm[n * channels + c] = value }
            phase += step
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
        }
        return pcm
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
