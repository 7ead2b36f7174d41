import ArgumentParser
import DesktopHost
import Foundation
import ICEAgent
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import STUNCore
import SecureMedia

/// A command-line WebRTC answerer for the media interop tests and benchmarks: the desktop's
/// media path without MQTT. It answers offers (from aiortc or Chromium, relayed by a test) and
/// streams one shared source to every session: an H.264 Annex B file looped at its frame rate,
/// and a sine tone encoded with libopus in 20 ms frames.
///
/// JSON lines on stdin (each may name a `"session"`, default `"default"`):
/// `{"type":"offer","sdp":...}`, `{"type":"candidate","candidate":...,"sdpMid":...,
/// "sdpMLineIndex":...}`, `{"type":"end-of-candidates"}`, `{"type":"stats"}`,
/// `{"type":"close-session"}`, `{"type":"close"}`. On stdout, each with `session` and `t`
/// (ms since start): `answer`, `candidate`, `gathering-complete`, `state`, `ice-state`,
/// `dtls` (with `offer_to_dtls_ms`), `keyframe-request`, `stats`, `error`, and for data
/// channels `sctp` (`state` connected or closed) and `datachannel` (`event` open or closed,
/// `label`, `id`, `protocol`). Every session has the negotiated Pod Arcade `input` channel
/// (id 0); every message that arrives on any data channel is sent back on it unchanged (echo),
/// which the data-channel interop tests and the echo benchmark use.
@main
struct WebRTCPeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webrtc-peer",
        abstract: "Answers WebRTC offers and streams a test clip and a tone; signaling is JSON lines.")

    @Option(name: .customLong("video-file"), help: "H.264 Annex B file to loop") var videoFile: String
    @Option(help: "frames per second of the file") var fps: Int = 30
    @Option(help: "tone frequency in Hz") var tone: Double = 440
    @Option(name: .customLong("ice-servers"), help: "ICE servers as JSON (the ICE_SERVERS shape)") var iceServers = "[]"
    @Option(help: "share this UDP port (WEBRTC_PORT); 0 opens sockets per interface") var port: UInt16 = 0
    @Option(help: "use only these interface addresses (comma-separated)") var interfaces = ""
    @Flag(help: "offer loopback addresses") var loopback = false
    @Flag(name: .customLong("no-ipv6"), help: "offer no IPv6 addresses") var noIPv6 = false
    @Flag(name: .customLong("wait-for-gathering"), help: "put every candidate in the answer instead of trickling")
    var waitForGathering = false
    @Flag(name: .customLong("no-keyframe-wait"), help: "start new sessions mid-clip instead of at the next keyframe")
    var noKeyframeWait = false
    @Option(name: .customLong("drop-outgoing"), help: "drop this fraction of outgoing RTP packets (simulated loss)")
    var dropOutgoing: Double = 0
    @Option(name: .customLong("drop-sctp"), help: "drop this fraction of SCTP packets each way (simulated loss)")
    var dropSCTP: Double = 0
    @Option(name: .customLong("echo-delay-us"),
            help: "hold each echo on the negotiated channel this many microseconds (a slower answerer, for the echo benchmark)")
    var echoDelayMicroseconds: Int64 = 0

    func run() async throws {
        let output = JSONLines()
        let frames: [EncodedVideoFrame]
        do {
            frames = H264StreamSplitter.split([UInt8](try Data(contentsOf: URL(fileURLWithPath: videoFile))))
        } catch {
            throw ValidationError("--video-file: \(error)")
        }
        guard !frames.isEmpty else { throw ValidationError("--video-file: no H.264 pictures in \(videoFile)") }
        guard (0..<1).contains(dropOutgoing) else { throw ValidationError("--drop-outgoing: a fraction in 0..<1") }
        guard (0..<1).contains(dropSCTP) else { throw ValidationError("--drop-sctp: a fraction in 0..<1") }
        guard (0...1_000_000).contains(echoDelayMicroseconds) else {
            throw ValidationError("--echo-delay-us: 0 to 1000000")
        }
        let servers: [IceServer]
        do {
            servers = try IceServer.parseList(json: iceServers)
        } catch {
            throw ValidationError("--ice-servers: \(error)")
        }
        var pinned: [IPAddress]?
        if !interfaces.isEmpty {
            pinned = try interfaces.split(separator: ",").map {
                guard let ip = IPAddress($0) else { throw ValidationError("--interfaces: '\($0)' is not an address") }
                return ip
            }
        }
        let certificate = try DTLSCertificate.shared()
        SRTPSession.prepareLibrary()
        let mux = port == 0 ? nil : try await UDPMux.bind(port: port, ipv6: !noIPv6)
        let configuration = PeerConnection.Configuration(
            ice: IceTransportConfiguration(
                agent: .init(role: .controlled), iceServers: servers,
                hostAddresses: HostAddressSelection(includeLoopback: loopback, includeIPv6: !noIPv6),
                interfaceAddresses: pinned),
            certificate: certificate, simulatedOutgoingLoss: dropOutgoing, simulatedDataChannelLoss: dropSCTP,
            negotiatedDataChannels: [.podArcadeInput],
            // Channels the peer opens echo from their first message, which may share a packet
            // with the open.
            peerChannelMessageHandler: { channel, message in try? channel.send(message) })
        let sessions = Sessions()
        let media = Task {
            await stream(
                frames: frames, fps: fps, tone: tone, to: sessions, waitForKeyframe: !noKeyframeWait, output: output)
        }

        for await line in StandardInputLines.stream() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let type = object["type"] as? String
            else {
                output.emit("error", session: nil, ["message": "unreadable input line"])
                continue
            }
            let id = object["session"] as? String ?? "default"
            switch type {
            case "offer":
                guard sessions.get(id) == nil else {
                    output.emit("error", session: id, ["message": "session exists; re-offers are not supported"])
                    continue
                }
                let connection = PeerConnection(configuration: configuration, mux: mux)
                sessions.add(id, Session(connection: connection, waitForKeyframe: !noKeyframeWait))
                let received = NIODeadline.now()
                watch(connection, id: id, received: received, sessions: sessions, output: output)
                do {
                    let answer = try await connection.answer(
                        offer: object["sdp"] as? String ?? "", waitForGathering: waitForGathering)
                    output.emit("answer", session: id, ["sdp": answer])
                    if let input = connection.dataChannel(label: NegotiatedDataChannel.podArcadeInput.label) {
                        echo(input, session: id, output: output, delay: .microseconds(echoDelayMicroseconds))
                    }
                } catch {
                    output.emit("error", session: id, ["message": "\(error)"])
                    sessions.remove(id)
                    await connection.close()
                }
            case "candidate", "end-of-candidates":
                guard let session = sessions.get(id) else {
                    output.emit("error", session: id, ["message": "no such session"])
                    continue
                }
                let candidate = SDPIceCandidateInit(
                    candidate: type == "candidate" ? object["candidate"] as? String ?? "" : "",
                    sdpMid: object["sdpMid"] as? String, sdpMLineIndex: object["sdpMLineIndex"] as? Int,
                    usernameFragment: object["usernameFragment"] as? String)
                do {
                    try session.connection.addRemoteCandidate(candidate)
                } catch {
                    output.emit("error", session: id, ["message": "bad candidate: \(error)"])
                }
            case "stats":
                guard let session = sessions.get(id) else {
                    output.emit("error", session: id, ["message": "no such session"])
                    continue
                }
                output.emit("stats", session: id, flatten(await session.connection.statistics))
            case "close-session":
                if let session = sessions.remove(id) { await session.connection.close() }
            case "close":
                media.cancel()
                for session in sessions.removeAll() { await session.connection.close() }
                await mux?.close()
                return
            default:
                output.emit("error", session: id, ["message": "unknown input type \(type)"])
            }
        }
        media.cancel()
        for session in sessions.removeAll() { await session.connection.close() }
        await mux?.close()
    }
}

/// One answered offer and whether it still waits for its first keyframe.
final class Session: Sendable {
    let connection: PeerConnection
    let waiting: NIOLockedValueBox<Bool>

    init(connection: PeerConnection, waitForKeyframe: Bool) {
        self.connection = connection
        waiting = NIOLockedValueBox(waitForKeyframe)
    }
}

/// The sessions by id.
final class Sessions: Sendable {
    private let byID = NIOLockedValueBox<[String: Session]>([:])
    func add(_ id: String, _ session: Session) { byID.withLockedValue { $0[id] = session } }
    func get(_ id: String) -> Session? { byID.withLockedValue { $0[id] } }
    @discardableResult func remove(_ id: String) -> Session? { byID.withLockedValue { $0.removeValue(forKey: id) } }
    func removeAll() -> [Session] {
        byID.withLockedValue { sessions in
            let all = Array(sessions.values)
            sessions = [:]
            return all
        }
    }
    var all: [Session] { byID.withLockedValue { Array($0.values) } }
}

/// Reports a session's events as lines.
func watch(_ connection: PeerConnection, id: String, received: NIODeadline, sessions: Sessions, output: JSONLines) {
    Task {
        for await event in connection.events {
            switch event {
            case .localCandidate(let candidate):
                output.emit("candidate", session: id, [
                    "candidate": candidate.candidate, "sdpMid": candidate.sdpMid ?? "",
                    "sdpMLineIndex": candidate.sdpMLineIndex ?? 0,
                ])
            case .gatheringComplete:
                output.emit("gathering-complete", session: id, [:])
            case .iceConnectionStateChanged(let state):
                output.emit("ice-state", session: id, ["state": state.rawValue])
            case .connectionStateChanged(let state):
                output.emit("state", session: id, ["state": state.rawValue])
            case .selectedPairChanged(let pair?):
                output.emit("selected", session: id, [
                    "local": pair.local.type.rawValue, "remote": pair.remote.type.rawValue,
                ])
            case .selectedPairChanged(nil):
                break
            case .dtlsConnected(let profile):
                output.emit("dtls", session: id, [
                    "state": "connected", "profile": profile.description,
                    "offer_to_dtls_ms": Double((NIODeadline.now() - received).nanoseconds) / 1_000_000,
                ])
            case .keyframeRequested(let reason):
                output.emit("keyframe-request", session: id, ["reason": reason.rawValue])
            case .failed(let reason):
                output.emit("error", session: id, ["message": reason])
            case .dataChannelsConnected:
                output.emit("sctp", session: id, ["state": "connected"])
            case .dataChannelsClosed(let reason):
                output.emit("sctp", session: id, ["state": "closed", "reason": "\(reason)"])
            case .dataChannelOpened(let channel):
                echo(channel, session: id, output: output)
            }
        }
    }
}

/// Reports the channel's opening and closing and sends every message back on it, in order.
/// Sends never block: what SCTP cannot take yet waits in the channel's queue (bufferedAmount).
/// With a `delay`, each echo on the negotiated channel leaves that long after its message, from a
/// timer on the same event loop (Benchmarks/datachannel-bench.py's BENCH_ECHO_DELAY_US).
func echo(_ channel: DataChannel, session id: String, output: JSONLines, delay: TimeAmount = .zero) {
    let fields: [String: Any] = ["label": channel.label, "id": Int(channel.id), "protocol": channel.protocol]
    if channel.readyState == .open { output.emit("datachannel", session: id, fields.merging(["event": "open"]) { $1 }) }
    Task {
        for await event in channel.events {
            switch event {
            case .open: output.emit("datachannel", session: id, fields.merging(["event": "open"]) { $1 })
            case .closed(let reason):
                output.emit("datachannel", session: id, fields.merging(["event": "closed", "reason": "\(reason)"]) { $1 })
            default: break
            }
        }
    }
    // On the event loop, as the desktop's input sink runs: no hop to a task per message.
    // Channels the peer opened have theirs from the configuration already.
    guard channel.negotiated else { return }
    channel.setMessageHandler { message in
        let send: @Sendable () -> Void = {
            do {
                try channel.send(message)
            } catch {
                output.emit("error", session: id, ["message": "echo on \(channel.label): \(error)"])
            }
        }
        guard delay > .zero else { return send() }
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            output.emit("error", session: id, ["message": "--echo-delay-us: messages arrive off an event loop"])
            return send()
        }
        loop.scheduleTask(in: delay, send)
    }
}

/// Sends the clip (looped) and the tone to every session, paced by the clock.
func stream(
    frames: [EncodedVideoFrame], fps: Int, tone frequency: Double, to sessions: Sessions, waitForKeyframe: Bool,
    output: JSONLines
) async {
    let clock = ContinuousClock()
    let start = clock.now
    let frameInterval = Duration.seconds(1) / max(1, fps)
    let ticksPerFrame = 90_000 / max(1, fps)
    let audioInterval = Duration.milliseconds(20)
    var videoIndex = 0
    var audioIndex = 0
    var tone = ToneGenerator(frequency: frequency)
    guard let encoder = try? OpusEncoder(channels: 2) else {
        output.emit("error", session: nil, ["message": "libopus encoder could not be created"])
        return
    }
    let buffers = frames.map { ByteBuffer(bytes: $0.annexB) }
    while !Task.isCancelled {
        let nextVideo = start + frameInterval * videoIndex
        let nextAudio = start + audioInterval * audioIndex
        let next = min(nextVideo, nextAudio)
        if next > clock.now { try? await clock.sleep(until: next) }
        if Task.isCancelled { return }
        let live = sessions.all
        if nextVideo <= nextAudio {
            let frame = frames[videoIndex % frames.count]
            let timestamp = UInt32(truncatingIfNeeded: videoIndex &* ticksPerFrame)
            for session in live {
                let skip = session.waiting.withLockedValue { waiting -> Bool in
                    if waiting && frame.isKeyframe { waiting = false }
                    return waiting
                }
                if !skip { session.connection.sendVideo(buffers[videoIndex % frames.count], timestamp: timestamp) }
            }
            videoIndex += 1
        } else {
            if let packet = try? encoder.encode(tone.next(samplesPerChannel: 960)) {
                let buffer = ByteBuffer(bytes: packet)
                let timestamp = UInt32(truncatingIfNeeded: audioIndex &* 960)
                for session in live { session.connection.sendAudio(buffer, timestamp: timestamp) }
            }
            audioIndex += 1
        }
    }
}

/// The statistics the tests read, as flat JSON fields.
func flatten(_ stats: PeerConnectionStatistics) -> [String: Any] {
    var fields: [String: Any] = [
        "state": stats.state.rawValue, "ice_state": stats.iceState.rawValue,
        "dtls_profile": stats.srtpProfile?.description ?? "",
        "rtp_dropped_simulated": stats.simulatedDrops,
        "srtcp_received": stats.media.srtcpPacketsReceived, "srtcp_rejected": stats.media.srtcpRejected,
        "rtcp_malformed": stats.media.rtcpMalformed, "unknown_dropped": stats.media.unknownDropped,
        "keyframe_requests": stats.media.keyframeRequests,
        "frames_before_connected": stats.media.framesBeforeConnected,
    ]
    if let video = stats.video {
        fields["video_packets_sent"] = Int(video.packetsSent)
        fields["nack_received"] = video.nackReceived
        fields["nack_packets_resent"] = video.packetsRetransmitted
        fields["pli_received"] = video.pliReceived
        fields["fir_received"] = video.firReceived
    }
    if let audio = stats.audio { fields["audio_packets_sent"] = Int(audio.packetsSent) }
    if let channels = stats.dataChannels {
        fields["dc_messages_received"] = channels.messagesReceived
        fields["dc_messages_sent"] = channels.messagesSent
        fields["dc_malformed_dcep"] = channels.malformedDCEP
        fields["dc_unknown_ppids"] = channels.unknownPPIDs
    }
    fields["sctp_dropped_simulated"] = stats.simulatedDataChannelDrops
    if let sctp = stats.sctp {
        fields["sctp_packets_sent"] = sctp.packetsSent
        fields["sctp_packets_received"] = sctp.packetsReceived
        fields["sctp_malformed_dropped"] = sctp.malformedPacketsDropped
        fields["sctp_sends_blocked"] = sctp.sendsBlocked
    }
    if let status = stats.sctpStatus {
        fields["sctp_state"] = Int(status.state)
        fields["sctp_peer_rwnd"] = Int(status.peerReceiveWindow)
        fields["sctp_unacked"] = Int(status.unacknowledgedChunks)
        fields["sctp_inbound_pending"] = Int(status.inboundPendingChunks)
        fields["sctp_cwnd"] = Int(status.congestionWindow)
        fields["sctp_srtt_ms"] = Int(status.smoothedRTTMilliseconds)
        fields["sctp_rto_ms"] = Int(status.retransmissionTimeoutMilliseconds)
        fields["sctp_path_active"] = status.pathActive
    }
    fields["dtls_app_received"] = stats.media.applicationDataReceived
    fields["dtls_app_sent"] = stats.media.applicationDataSent
    fields["dtls_app_dropped"] = stats.media.applicationDataDropped
    if let dtls = stats.dtls {
        fields["dtls_dropped_malformed"] = dtls.droppedMalformed
        fields["dtls_retransmissions"] = dtls.retransmissions
    }
    return fields
}

/// Writes one JSON object per line to stdout, with "type", "session" and "t" (ms since start).
final class JSONLines: Sendable {
    private let start = NIODeadline.now()
    private let lock = NIOLockedValueBox(())

    func emit(_ type: String, session: String?, _ fields: [String: Any]) {
        var object = fields
        object["type"] = type
        if let session { object["session"] = session }
        object["t"] = Double((NIODeadline.now() - start).nanoseconds) / 1_000_000
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        lock.withLockedValue { _ in
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

/// Lines of standard input, read on a thread of their own.
enum StandardInputLines {
    static func stream() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let thread = Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}
