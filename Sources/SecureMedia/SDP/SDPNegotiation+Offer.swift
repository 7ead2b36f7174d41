extension SDPNegotiation {
    /// Payload types we offer (RFC 3551 dynamic range).
    static let offerH264PayloadType: UInt8 = 102
    static let offerRTXPayloadType: UInt8 = 103
    static let offerOpusPayloadType: UInt8 = 111
    /// Header extension ids we offer (RFC 8285 one-byte ids).
    static let offerExtensions: [SDPExtensionMap] = [
        SDPExtensionMap(id: 1, uri: SDPExtensionMap.mid),
        SDPExtensionMap(id: 2, uri: SDPExtensionMap.absSendTime),
        SDPExtensionMap(id: 3, uri: SDPExtensionMap.transportWideCC),
    ]
    static let offerFeedback: [SDPRTCPFeedback] = [
        .init(format: "*", type: "nack"), .init(format: "*", type: "nack", parameter: "pli"),
        .init(format: "*", type: "ccm", parameter: "fir"), .init(format: "*", type: "goog-remb"),
        .init(format: "*", type: "transport-cc"),
    ]

    /// Our offer (RFC 8829 §5.2.1): sendonly H.264 constrained baseline video (with RTX when
    /// ``SDPLocalParameters/videoRTXSSRC`` is set), sendonly Opus audio and a data channel
    /// section, in that order with mids `0`, `1`, `2` (of those included), BUNDLEd, with
    /// rtcp-mux, `setup:actpass` and `ice-options:trickle`.
    public static func offer(
        local: SDPLocalParameters, includeVideo: Bool = true, includeAudio: Bool = true,
        includeApplication: Bool = true
    ) -> SDPSessionDescription {
        var description = SDPSessionDescription(
            origin: SDPOrigin(sessionID: local.sessionID, sessionVersion: local.sessionVersion))
        var mids: [String] = []
        func nextMid() -> String { String(mids.count) }

        if includeVideo {
            let mid = nextMid()
            let writer = SDPSectionWriter(local: local, setup: .actpass, isTransport: mids.isEmpty)
            let map = SDPRTPMap(payloadType: offerH264PayloadType, encodingName: "H264", clockRate: 90_000)
            let parameters = SDPFormatParameters(
                format: String(offerH264PayloadType),
                parameters: [.init("level-asymmetry-allowed", "1"), .init("packetization-mode", "1"), .init("profile-level-id", "42e01f")])
            let rtx = local.videoRTXSSRC != nil ? offerRTXPayloadType : nil
            let media = SDPNegotiatedRTPMedia(
                mid: mid, mediaIndex: mids.count, direction: local.sendsVideo ? .sendonly : .inactive,
                payloadType: offerH264PayloadType, codec: "H264", clockRate: 90_000, channels: 1, rtxPayloadType: rtx,
                formatParameters: parameters.dictionary, nack: true, pli: true, fir: true, remb: true, transportCC: true,
                rtcpReducedSize: true, extensionIDs: Dictionary(uniqueKeysWithValues: offerExtensions.map { ($0.uri, $0.id) }),
                localSSRC: local.sendsVideo ? local.videoSSRC : nil,
                localRTXSSRC: local.sendsVideo && rtx != nil ? local.videoRTXSSRC : nil)
            let template = SDPMediaDescription(kind: .video, port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [])
            description.media.append(
                writer.rtp(like: template, negotiated: media, map: map, parameters: parameters, feedback: offerFeedback,
                           extensions: offerExtensions))
            mids.append(mid)
        }
        if includeAudio {
            let mid = nextMid()
            let writer = SDPSectionWriter(local: local, setup: .actpass, isTransport: mids.isEmpty)
            let map = SDPRTPMap(payloadType: offerOpusPayloadType, encodingName: "opus", clockRate: 48_000, encodingParameters: "2")
            let parameters = SDPCodecSelection.opusAnswerParameters(offered: nil, payloadType: offerOpusPayloadType)
            let media = SDPNegotiatedRTPMedia(
                mid: mid, mediaIndex: mids.count, direction: local.sendsAudio ? .sendonly : .inactive,
                payloadType: offerOpusPayloadType, codec: "opus", clockRate: 48_000, channels: 2, rtxPayloadType: nil,
                formatParameters: parameters.dictionary, nack: false, pli: false, fir: false, remb: false,
                transportCC: true, rtcpReducedSize: true,
                extensionIDs: Dictionary(uniqueKeysWithValues: offerExtensions.map { ($0.uri, $0.id) }),
                localSSRC: local.sendsAudio ? local.audioSSRC : nil, localRTXSSRC: nil)
            let template = SDPMediaDescription(kind: .audio, port: 9, proto: "UDP/TLS/RTP/SAVPF", formats: [])
            description.media.append(
                writer.rtp(like: template, negotiated: media, map: map, parameters: parameters,
                           feedback: [.init(format: "*", type: "transport-cc")], extensions: offerExtensions))
            mids.append(mid)
        }
        if includeApplication {
            let mid = nextMid()
            let writer = SDPSectionWriter(local: local, setup: .actpass, isTransport: mids.isEmpty)
            description.media.append(writer.application(like: nil, mid: mid))
            mids.append(mid)
        }
        if !mids.isEmpty { description.attributes.append(SDPAttribute("group", (["BUNDLE"] + mids).joined(separator: " "))) }
        description.attributes.append(SDPAttribute("msid-semantic", " WMS \(local.streamID)"))
        return description
    }

    /// Takes the peer's answer to our ``offer(local:includeVideo:includeAudio:includeApplication:)``
    /// (RFC 8829 §5.10, RFC 3264 §6): the sections must match ours in number, kind and mid;
    /// each accepted RTP section must pick a codec we offered.
    ///
    /// - Throws: ``SDPNegotiationError`` when the answer does not match the offer, accepts
    ///   nothing, or lacks BUNDLE, rtcp-mux, ICE credentials, a fingerprint or an active/passive setup.
    public static func accept(
        answer: SDPSessionDescription, to offer: SDPSessionDescription, local: SDPLocalParameters
    ) throws(SDPNegotiationError) -> SDPNegotiatedSession {
        guard answer.media.count == offer.media.count else {
            throw SDPNegotiationError(
                .answerMismatch, detail: "answer has \(answer.media.count) m-lines, the offer \(offer.media.count)")
        }
        var accepted: [Int] = []
        var rejected: [SDPRejectedMedia] = []
        for (index, (ours, theirs)) in zip(offer.media, answer.media).enumerated() {
            guard ours.kind == theirs.kind, theirs.mid == nil || theirs.mid == ours.mid else {
                throw SDPNegotiationError(
                    .answerMismatch, mediaIndex: index, mid: theirs.mid,
                    detail: "answer m-line is \(theirs.kind) mid \(theirs.mid ?? "none"), the offer's \(ours.kind) mid \(ours.mid ?? "none")")
            }
            if theirs.port == 0 {
                rejected.append(SDPRejectedMedia(mediaIndex: index, mid: ours.mid, kind: ours.kind, reason: "rejected in the answer (port 0)"))
            } else {
                accepted.append(index)
            }
        }
        guard !accepted.isEmpty else { throw SDPNegotiationError(.noUsableMedia, detail: "the answer rejects every m-line") }

        var bundleMids: [String] = []
        if let group = answer.bundleGroup {
            for index in accepted where !group.mids.contains(offer.media[index].mid ?? "") {
                throw SDPNegotiationError(
                    .missingBundle, mediaIndex: index, mid: offer.media[index].mid,
                    detail: "accepted section is not in the answer's BUNDLE group \(group.mids)")
            }
            bundleMids = group.mids
        } else if accepted.count > 1 {
            throw SDPNegotiationError(.missingBundle, detail: "answer accepts \(accepted.count) sections without a=group:BUNDLE")
        }
        for index in accepted where answer.media[index].isRTP && !answer.media[index].rtcpMux {
            throw SDPNegotiationError(
                .missingRTCPMux, mediaIndex: index, mid: offer.media[index].mid, detail: "a=rtcp-mux is required")
        }
        let transportIndex = bundleMids.first.flatMap { offer.mediaIndex(mid: $0) } ?? accepted[0]
        let transport = try remoteTransport(answer, index: transportIndex, answering: false, local: local)

        var session = SDPNegotiatedSession(
            bundleMids: bundleMids, transportMid: offer.media[transportIndex].mid ?? "", transportMediaIndex: transportIndex,
            remoteIceCredentials: transport.credentials, remoteIceLite: answer.iceLite,
            remoteTrickle: answer.iceOptions(forMedia: transportIndex).contains("trickle"),
            remoteCandidates: answer.media[transportIndex].candidates,
            remoteEndOfCandidates: answer.media[transportIndex].endOfCandidates || answer.endOfCandidates,
            remoteFingerprints: transport.fingerprints, remoteSetup: transport.remoteSetup, localSetup: transport.localSetup,
            localDTLSRole: transport.localSetup == .active ? .client : .server, video: nil, audio: nil, application: nil,
            rejected: rejected)

        for index in accepted {
            let ours = offer.media[index], theirs = answer.media[index]
            switch ours.kind {
            case .video, .audio:
                // RFC 3264 §6.1: the answer lists a subset of the offered formats; the first is used.
                guard let payloadType = theirs.payloadTypes.first(where: { payloadType in
                    guard let map = ours.rtpMap(for: payloadType) else { return false }
                    return map.encodingName.lowercased() != "rtx"
                }), let map = ours.rtpMap(for: payloadType) else {
                    throw SDPNegotiationError(
                        .answerMismatch, mediaIndex: index, mid: ours.mid,
                        detail: "answer formats \(theirs.formats) name no codec of the offer")
                }
                let rtx = SDPCodecSelection.rtx(for: payloadType, in: theirs).flatMap { ours.rtpMap(for: $0) != nil ? $0 : nil }
                let choice = SDPCodecSelection.Choice(
                    map: map, parameters: theirs.formatParameters(for: payloadType) ?? ours.formatParameters(for: payloadType),
                    rtxPayloadType: rtx)
                let isVideo = ours.kind == .video
                let weSend = isVideo ? local.sendsVideo : local.sendsAudio
                let theirDirection = answer.direction(forMedia: index)
                let negotiated = negotiatedRTP(
                    remote: theirs, index: index, choice: choice,
                    direction: weSend && theirDirection.receives ? .sendonly : .inactive,
                    ourRTX: isVideo && local.videoRTXSSRC != nil, local: local, isVideo: isVideo,
                    feedbackSource: theirs, extensionSource: theirs)
                if isVideo { session.video = negotiated } else { session.audio = negotiated }
            case .application:
                session.application = SDPNegotiatedApplication(
                    mid: ours.mid ?? "", mediaIndex: index, remoteSCTPPort: theirs.sctpPort ?? 5000,
                    remoteMaxMessageSize: theirs.maxMessageSize ?? 65_536, localSCTPPort: local.sctpPort)
            case .other:
                break
            }
        }
        return session
    }
}
