import ICEAgent

/// JSEP offer/answer (RFC 8829) for the desktop: it sends H.264 video, Opus audio and runs a
/// data channel, all on one BUNDLEd ICE/DTLS transport with rtcp-mux.
public enum SDPNegotiation {}

extension SDPNegotiation {
    /// Answers a peer's offer (RFC 8829 §5.3.1).
    ///
    /// Each offered section is answered in order: video with H.264 (packetization-mode=1,
    /// constrained baseline preferred, then baseline, then main) and its RTX when offered;
    /// audio with Opus 48000/2; `UDP/DTLS/SCTP webrtc-datachannel` with our SCTP port and
    /// max-message-size. Sections we cannot serve are rejected with port 0 (RFC 3264 §6).
    /// We send on sections the peer receives on (`recvonly`/`sendrecv` → `sendonly`), and
    /// answer `inactive` otherwise.
    ///
    /// - Parameters:
    ///   - offer: the peer's offer.
    ///   - local: our credentials, fingerprint, streams and candidates.
    /// - Returns: the answer to send and what was agreed.
    /// - Throws: ``SDPNegotiationError`` when no section can be served, or the offer lacks
    ///   mids, BUNDLE, rtcp-mux, ICE credentials, a fingerprint or a usable `a=setup`.
    public static func answer(
        offer: SDPSessionDescription, local: SDPLocalParameters
    ) throws(SDPNegotiationError) -> (answer: SDPSessionDescription, session: SDPNegotiatedSession) {
        try checkMids(offer)
        var decisions: [Decision] = []
        var haveVideo = false, haveAudio = false, haveApplication = false
        for (index, media) in offer.media.enumerated() {
            let decision = decide(media, index: index, haveVideo: &haveVideo, haveAudio: &haveAudio,
                                  haveApplication: &haveApplication)
            decisions.append(decision)
        }
        let accepted = decisions.indices.filter { !decisions[$0].isRejected }
        guard !accepted.isEmpty else {
            let reasons = decisions.enumerated().map { "m-line \($0.offset) (\(offer.media[$0.offset].kind)): \($0.element.reason)" }
            throw SDPNegotiationError(.noUsableMedia, detail: reasons.joined(separator: "; "))
        }

        // One transport for everything (RFC 8843): all accepted sections in the offer's first BUNDLE group.
        let group = offer.bundleGroup
        var bundleMids: [String] = []
        if let group {
            for index in accepted where !group.mids.contains(offer.media[index].mid ?? "") {
                throw SDPNegotiationError(
                    .missingBundle, mediaIndex: index, mid: offer.media[index].mid,
                    detail: "section is not in the offer's BUNDLE group \(group.mids); all sections must share one transport")
            }
            bundleMids = group.mids.filter { mid in accepted.contains { offer.media[$0].mid == mid } }
        } else if accepted.count > 1 {
            throw SDPNegotiationError(
                .missingBundle, detail: "offer has \(accepted.count) usable sections and no a=group:BUNDLE; one transport is needed")
        }
        for index in accepted where offer.media[index].isRTP && !offer.media[index].rtcpMux {
            throw SDPNegotiationError(
                .missingRTCPMux, mediaIndex: index, mid: offer.media[index].mid, detail: "a=rtcp-mux is required")
        }
        let transportIndex = bundleMids.first.flatMap { offer.mediaIndex(mid: $0) } ?? accepted[0]
        let transport = try remoteTransport(offer, index: transportIndex, answering: true, local: local)

        // The answer.
        var answer = SDPSessionDescription(
            origin: SDPOrigin(sessionID: local.sessionID, sessionVersion: local.sessionVersion))
        if group != nil { answer.attributes.append(SDPAttribute("group", (["BUNDLE"] + bundleMids).joined(separator: " "))) }
        answer.attributes.append(SDPAttribute("msid-semantic", " WMS \(local.streamID)"))

        var session = SDPNegotiatedSession(
            bundleMids: bundleMids, transportMid: offer.media[transportIndex].mid ?? "", transportMediaIndex: transportIndex,
            remoteIceCredentials: transport.credentials, remoteIceLite: offer.iceLite,
            remoteTrickle: offer.iceOptions(forMedia: transportIndex).contains("trickle"),
            remoteCandidates: offer.media[transportIndex].candidates,
            remoteEndOfCandidates: offer.media[transportIndex].endOfCandidates || offer.endOfCandidates,
            remoteFingerprints: transport.fingerprints, remoteSetup: transport.remoteSetup, localSetup: transport.localSetup,
            localDTLSRole: transport.localSetup == .active ? .client : .server, video: nil, audio: nil, application: nil,
            rejected: [])

        for (index, media) in offer.media.enumerated() {
            let mid = media.mid ?? ""
            let common = SDPSectionWriter(local: local, setup: transport.localSetup, isTransport: index == transportIndex)
            switch decisions[index] {
            case .rejected(let reason):
                session.rejected.append(SDPRejectedMedia(mediaIndex: index, mid: media.mid, kind: media.kind, reason: reason))
                answer.media.append(SDPSectionWriter.rejected(media))
            case .video(let choice), .audio(let choice):
                let isVideo = media.kind == .video
                let weSend = isVideo ? local.sendsVideo : local.sendsAudio
                let direction: SDPDirection = weSend && offer.direction(forMedia: index).receives ? .sendonly : .inactive
                let negotiated = negotiatedRTP(
                    remote: media, index: index, choice: choice, direction: direction,
                    ourRTX: isVideo ? local.videoRTXSSRC != nil : false, local: local, isVideo: isVideo,
                    feedbackSource: media, extensionSource: media)
                let parameters =
                    isVideo
                    ? choice.parameters
                    : SDPCodecSelection.opusAnswerParameters(offered: choice.parameters, payloadType: choice.map.payloadType)
                answer.media.append(
                    common.rtp(
                        like: media, negotiated: negotiated, map: choice.map, parameters: parameters,
                        feedback: media.rtcpFeedback(for: choice.map.payloadType),
                        extensions: media.extensionMaps.map { map in
                            var ours = map
                            ours.direction = map.direction?.reversed
                            return ours
                        }))
                if isVideo { session.video = negotiated } else { session.audio = negotiated }
            case .application:
                session.application = SDPNegotiatedApplication(
                    mid: mid, mediaIndex: index, remoteSCTPPort: media.sctpPort ?? 5000,
                    remoteMaxMessageSize: media.maxMessageSize ?? 65_536, localSCTPPort: local.sctpPort)
                answer.media.append(common.application(like: media))
            }
        }
        return (answer, session)
    }

    /// What we do with one offered section.
    enum Decision {
        case rejected(String)
        case video(SDPCodecSelection.Choice)
        case audio(SDPCodecSelection.Choice)
        case application

        var isRejected: Bool { if case .rejected = self { true } else { false } }
        var reason: String { if case .rejected(let reason) = self { reason } else { "accepted" } }
    }

    private static func decide(
        _ media: SDPMediaDescription, index: Int, haveVideo: inout Bool, haveAudio: inout Bool,
        haveApplication: inout Bool
    ) -> Decision {
        if media.port == 0 { return .rejected("rejected in the offer (port 0)") }
        switch media.kind {
        case .video, .audio:
            let isVideo = media.kind == .video
            guard media.isRTP, media.proto.hasSuffix("/SAVPF") || media.proto.hasSuffix("/SAVP") else {
                return .rejected("protocol \(media.proto) is not secure RTP (UDP/TLS/RTP/SAVPF needed)")
            }
            if isVideo ? haveVideo : haveAudio {
                return .rejected("we send a single \(media.kind) track, answered in an earlier section")
            }
            let choice = isVideo ? SDPCodecSelection.chooseVideo(in: media) : SDPCodecSelection.chooseAudio(in: media)
            switch choice {
            case .chosen(let choice):
                if isVideo { haveVideo = true } else { haveAudio = true }
                return isVideo ? .video(choice) : .audio(choice)
            case .unavailable(let reason):
                return .rejected(reason)
            }
        case .application:
            guard media.proto == "UDP/DTLS/SCTP" || media.proto == "TCP/DTLS/SCTP",
                media.formats.contains("webrtc-datachannel")
            else { return .rejected("\(media.proto) \(media.formats.joined(separator: " ")) is not UDP/DTLS/SCTP webrtc-datachannel") }
            if haveApplication { return .rejected("a data channel section was answered earlier") }
            haveApplication = true
            return .application
        case .other(let kind):
            return .rejected("media kind \(kind) is not supported")
        }
    }

    /// Every section has a mid and no two share one (RFC 8829 §5.3.1, RFC 5888 §4).
    static func checkMids(_ description: SDPSessionDescription) throws(SDPNegotiationError) {
        var seen: Set<String> = []
        for (index, media) in description.media.enumerated() {
            guard let mid = media.mid else {
                throw SDPNegotiationError(.missingMid, mediaIndex: index, detail: "a=mid is required in every m-line")
            }
            guard seen.insert(mid).inserted else {
                throw SDPNegotiationError(.duplicateMid, mediaIndex: index, mid: mid, detail: "mid \(mid) is used twice")
            }
        }
    }

    struct RemoteTransport {
        var credentials: IceCredentials
        var fingerprints: [DTLSFingerprint]
        var remoteSetup: SDPSetupRole
        var localSetup: SDPSetupRole
    }

    /// The peer's ICE credentials, fingerprints and setup role from the transport section,
    /// falling back to session level; and our setup role (RFC 8842 §5.2, RFC 5763 §5).
    ///
    /// When the transport section carries none of them (a bundled section that only the
    /// offerer's BUNDLE-tag section describes, RFC 8843 §7.2), the first section of the
    /// description's BUNDLE group is read instead.
    static func remoteTransport(
        _ description: SDPSessionDescription, index transportIndex: Int, answering: Bool, local: SDPLocalParameters
    ) throws(SDPNegotiationError) -> RemoteTransport {
        var index = transportIndex
        let own = description.media[transportIndex]
        if own.iceUsernameFragment == nil && own.icePassword == nil && own.fingerprints.isEmpty && own.setup == nil,
            let tag = description.bundleGroup?.mids.first, let tagIndex = description.mediaIndex(mid: tag)
        {
            index = tagIndex
        }
        let mid = description.media[index].mid
        guard let credentials = description.iceCredentials(forMedia: index) else {
            let media = description.media[index]
            let ufrag = media.iceUsernameFragment ?? description.iceUsernameFragment
            let password = media.icePassword ?? description.icePassword
            if ufrag != nil && password != nil {
                throw SDPNegotiationError(
                    .invalidIceCredentials, mediaIndex: index, mid: mid,
                    detail: "ice-ufrag must be 4-256 and ice-pwd 22-256 ice-chars (RFC 8839 §5.4)")
            }
            throw SDPNegotiationError(
                .missingIceCredentials, mediaIndex: index, mid: mid,
                detail: "no \(ufrag == nil ? "a=ice-ufrag" : "a=ice-pwd") at media or session level")
        }
        let fingerprints = description.fingerprints(forMedia: index)
        guard !fingerprints.isEmpty else {
            throw SDPNegotiationError(
                .missingFingerprint, mediaIndex: index, mid: mid, detail: "no a=fingerprint at media or session level")
        }
        guard let remoteSetup = description.setup(forMedia: index) else {
            throw SDPNegotiationError(.missingSetup, mediaIndex: index, mid: mid, detail: "no a=setup at media or session level")
        }
        let localSetup: SDPSetupRole
        switch (remoteSetup, answering) {
        case (.actpass, true): localSetup = local.setup == .passive ? .passive : .active
        case (.active, _): localSetup = .passive
        case (.passive, _): localSetup = .active
        case (.actpass, false):
            throw SDPNegotiationError(
                .invalidSetup, mediaIndex: index, mid: mid, detail: "an answer must say active or passive, not actpass")
        case (.holdconn, _):
            throw SDPNegotiationError(
                .invalidSetup, mediaIndex: index, mid: mid, detail: "a=setup:holdconn is not allowed (RFC 8842 §5.1)")
        }
        return RemoteTransport(
            credentials: credentials, fingerprints: fingerprints, remoteSetup: remoteSetup, localSetup: localSetup)
    }

    /// What was agreed for one RTP section.
    static func negotiatedRTP(
        remote: SDPMediaDescription, index: Int, choice: SDPCodecSelection.Choice, direction: SDPDirection,
        ourRTX: Bool, local: SDPLocalParameters, isVideo: Bool, feedbackSource: SDPMediaDescription,
        extensionSource: SDPMediaDescription
    ) -> SDPNegotiatedRTPMedia {
        let payloadType = choice.map.payloadType
        let feedback = Set(
            feedbackSource.rtcpFeedback(for: payloadType).map(\.kind).filter(SDPCodecSelection.supportedFeedback.contains))
        var extensionIDs: [String: UInt8] = [:]
        for map in extensionSource.extensionMaps where SDPCodecSelection.supportedExtensions.contains(map.uri) {
            extensionIDs[map.uri] = map.id
        }
        let rtx = ourRTX ? choice.rtxPayloadType : nil
        let sending = direction.sends
        return SDPNegotiatedRTPMedia(
            mid: remote.mid ?? "", mediaIndex: index, direction: direction, payloadType: payloadType,
            codec: choice.map.encodingName, clockRate: choice.map.clockRate, channels: choice.map.channels,
            rtxPayloadType: rtx, formatParameters: choice.parameters?.dictionary ?? [:],
            nack: feedback.contains("nack"), pli: feedback.contains("nack pli"), fir: feedback.contains("ccm fir"),
            remb: feedback.contains("goog-remb"), transportCC: feedback.contains("transport-cc"),
            rtcpReducedSize: remote.rtcpReducedSize, extensionIDs: extensionIDs,
            localSSRC: sending ? (isVideo ? local.videoSSRC : local.audioSSRC) : nil,
            localRTXSSRC: sending && rtx != nil ? local.videoRTXSSRC : nil)
    }
}
