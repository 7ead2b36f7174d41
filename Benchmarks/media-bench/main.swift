import CSRTP
import DesktopHost
import Foundation
import NIOCore
import SecureMedia

// Issue 5, Measure (a): the per-packet send path against a loop that only calls libsrtp.
//
// Both sides work on the same RTP packets: the committed H.264 clip, packetized once by the
// video sender to collect them. The baseline copies each packet into a buffer, stamps a fresh
// sequence number and calls `srtp_protect` on it, nothing else. Ours is the whole path a
// session takes per frame: `PeerConnectionCore.sendVideo` (packetize, history, header
// extensions, SRTP protect) and handing every datagram to the transport's send function.
// Usage: media-bench <clip.h264> [rounds]

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    print("usage: media-bench <clip.h264> [rounds]")
    exit(2)
}
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 20 : 20
let clip = H264StreamSplitter.split([UInt8](try Data(contentsOf: URL(fileURLWithPath: arguments[1]))))
let frames = clip.map { ByteBuffer(bytes: $0.annexB) }

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

// MEDIA_BENCH_PROFILE=gcm or =cm runs one profile only (for profiling).
let onlyProfile = ProcessInfo.processInfo.environment["MEDIA_BENCH_PROFILE"]
let profiles = [SRTPProtectionProfile.aeadAES128GCM, .aes128CMHMACSHA1_80].filter { profile in
    switch onlyProfile {
    case "gcm": profile == .aeadAES128GCM
    case "cm": profile == .aes128CMHMACSHA1_80
    default: true
    }
}
for profile in profiles {
    let pair = try ConnectedPair(profile: profile)
    // The packets, as the sender makes them (plaintext, before protection).
    var packets: [[UInt8]] = []
    do {
        let collector = try ConnectedPair(profile: profile)
        for (index, frame) in frames.enumerated() {
            collector.ours.video!.sendVideoFrame(
                annexB: frame, rtpTimestamp: UInt32(index * 3000), now: .now(), transportSequence: &collector.sequence
            ) { packet in packets.append(Array(packet.readableBytesView)) }
        }
    }
    let packetsPerRound = packets.count

    // Baseline: libsrtp's protect alone on copies of those packets.
    var session: OpaquePointer?
    var policy = srtp_policy_t()
    if profile == .aeadAES128GCM {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
    } else {
        srtp_crypto_policy_set_rtp_default(&policy.rtp)
        srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
    }
    policy.ssrc.type = ssrc_any_outbound
    policy.window_size = 1024
    var key = [UInt8](repeating: 7, count: 16 + profile.saltLength)
    let status = key.withUnsafeMutableBufferPointer { key -> srtp_err_status_t in
        policy.key = key.baseAddress
        return srtp_create(&session, &policy)
    }
    guard status == srtp_err_status_ok, let session else { fatalError("srtp_create: \(status)") }
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
    var sequence: UInt16 = 1
    var baselineBytes = 0
    func baselineRound() {
        for packet in packets {
            packet.withUnsafeBytes { scratch.copyMemory(from: $0) }
            scratch.storeBytes(of: sequence.bigEndian, toByteOffset: 2, as: UInt16.self)
            sequence &+= 1
            var length = Int32(packet.count)
            let result = srtp_protect(session, scratch.baseAddress!, &length)
            precondition(result == srtp_err_status_ok, "srtp_protect: \(result)")
            baselineBytes &+= Int(length)
        }
    }

    // Ours: the session's whole send path, up to the transport's send call.
    var handedOver = 0
    var handedBytes = 0
    let send: (ByteBuffer) -> Void = { datagram in
        handedOver += 1
        handedBytes &+= datagram.readableBytes
    }
    var frameIndex = 0
    func oursRound() {
        for frame in frames {
            let output = pair.ours.sendVideo(annexB: frame, timestamp: UInt32(frameIndex &* 3000), now: .now())
            for datagram in output.datagrams { send(datagram) }
            frameIndex += 1
        }
    }

    if ProcessInfo.processInfo.environment["MEDIA_BENCH_PARTS"] != nil {
        // Development split of ours: packetize + history only, then with SRTP in place, both
        // appending a frame's packets to one reused buffer as the session does.
        let part = try ConnectedPair(profile: profile)
        var seq: UInt16 = 0
        var n = 0
        var frameBuffer = ByteBufferAllocator().buffer(capacity: 65536)
        func packetizeOnly() {
            for (index, frame) in frames.enumerated() {
                frameBuffer.clear()
                n += part.ours.video!.sendVideoFrame(
                    annexB: frame, rtpTimestamp: UInt32(index * 3000), now: .now(), transportSequence: &seq,
                    appendingTo: &frameBuffer
                ) { _, length in length }
            }
        }
        let srtp = part.ours.srtp!
        func packetizeProtect() {
            for (index, frame) in frames.enumerated() {
                frameBuffer.clear()
                n += part.ours.video!.sendVideoFrame(
                    annexB: frame, rtpTimestamp: UInt32(index * 3000), now: .now(), transportSequence: &seq,
                    appendingTo: &frameBuffer
                ) { packet, length in
                    var protected = length
                    return (try? srtp.protectRTP(packet, length: &protected)) == nil ? 0 : protected
                }
            }
        }
        packetizeOnly(); packetizeProtect()
        var a = 0.0, b = 0.0
        for _ in 0..<rounds { a += seconds(packetizeOnly); b += seconds(packetizeProtect) }
        print("parts: packetize+history \(Int(a / Double(packetsPerRound * rounds) * 1e9)) ns/packet, + protect in place \(Int(b / Double(packetsPerRound * rounds) * 1e9)) ns/packet")
    }

    // Warm up, then alternate rounds so that both see the same machine.
    baselineRound()
    oursRound()
    var baselineTime = 0.0
    var oursTime = 0.0
    for _ in 0..<rounds {
        baselineTime += seconds(baselineRound)
        oursTime += seconds(oursRound)
    }
    let total = Double(packetsPerRound * rounds)
    let baselineNs = baselineTime / total * 1e9
    let oursNs = oursTime / total * 1e9
    precondition(handedOver == packetsPerRound * (rounds + 1), "ours sent \(handedOver) packets")
    print(String(
        format: "%@: %d packets x %d rounds (avg %d B): libsrtp protect only %.0f ns/packet, ours %.0f ns/packet, ratio %.2f (target <= 1.3)",
        profile.description, packetsPerRound, rounds, handedBytes / max(1, handedOver), baselineNs, oursNs,
        oursNs / baselineNs))
    srtp_dealloc(session)
    scratch.deallocate()
}
