/// Writes our media sections for offers and answers (RFC 8829 §5.2.1, §5.3.1), in the
/// attribute order browsers use.
struct SDPSectionWriter {
    var local: SDPLocalParameters
    /// `active`/`passive` in answers, `actpass` in offers.
    var setup: SDPSetupRole
    /// Candidates and end-of-candidates go only into the transport's section (the BUNDLE-tag),
    /// as the others share its transport (RFC 8843 §7.1.3).
    var isTransport: Bool

    /// The default candidate's port and address (RFC 8829 §5.3.1), or 9 and 0.0.0.0 while
    /// candidates are still to come.
    private var defaultAddress: (port: UInt16, connection: SDPConnection) {
        guard let candidate = local.candidates.first(where: { $0.transport == .udp && $0.component == 1 }),
            case .ip(let ip) = candidate.address
        else { return (9, .placeholder) }
        let text = "\(ip)"
        return (candidate.port, SDPConnection(addressType: text.contains(":") ? "IP6" : "IP4", address: text))
    }

    /// ICE, DTLS and mid attributes that start every section we write.
    private func transportAttributes(mid: String) -> [SDPAttribute] {
        var out: [SDPAttribute] = []
        if isTransport {
            out += local.candidates.map { SDPAttribute("candidate", String($0.sdpValue.dropFirst("candidate:".count))) }
            if local.gatheringComplete { out.append(SDPAttribute("end-of-candidates")) }
        }
        out += [
            SDPAttribute("ice-ufrag", local.iceCredentials.usernameFragment),
            SDPAttribute("ice-pwd", local.iceCredentials.password),
            SDPAttribute("ice-options", "trickle"),
            SDPAttribute("fingerprint", local.fingerprint.sdpValue),
            SDPAttribute("setup", setup.rawValue),
            SDPAttribute("mid", mid),
        ]
        return out
    }

    /// An accepted or offered RTP section.
    func rtp(
        like remote: SDPMediaDescription, negotiated: SDPNegotiatedRTPMedia, map: SDPRTPMap,
        parameters: SDPFormatParameters?, feedback: [SDPRTCPFeedback], extensions: [SDPExtensionMap]
    ) -> SDPMediaDescription {
        let address = defaultAddress
        let payloadType = map.payloadType
        var formats = [String(payloadType)]
        if let rtx = negotiated.rtxPayloadType { formats.append(String(rtx)) }
        var section = SDPMediaDescription(
            kind: remote.kind, port: address.port, proto: remote.proto, formats: formats,
            connections: [address.connection])
        var attributes = transportAttributes(mid: negotiated.mid)
        for map in extensions where negotiated.extensionIDs[map.uri] == map.id {
            attributes.append(SDPAttribute("extmap", map.value))
        }
        attributes.append(SDPAttribute(negotiated.direction.rawValue))
        let isVideo = remote.kind == .video
        if negotiated.sending {
            attributes.append(
                SDPAttribute("msid", "\(local.streamID) \(isVideo ? local.videoTrackID : local.audioTrackID)"))
        }
        attributes.append(SDPAttribute("rtcp-mux"))
        if negotiated.rtcpReducedSize { attributes.append(SDPAttribute("rtcp-rsize")) }
        attributes.append(SDPAttribute("rtpmap", map.value))
        var written: Set<String> = []
        for item in feedback where SDPCodecSelection.supportedFeedback.contains(item.kind) && written.insert(item.kind).inserted {
            attributes.append(SDPAttribute("rtcp-fb", SDPRTCPFeedback(format: String(payloadType), type: item.type, parameter: item.parameter).value))
        }
        if let parameters {
            attributes.append(SDPAttribute("fmtp", SDPFormatParameters(format: String(payloadType), parameters: parameters.parameters).value))
        }
        if let rtx = negotiated.rtxPayloadType {
            attributes.append(SDPAttribute("rtpmap", "\(rtx) rtx/\(map.clockRate)"))
            attributes.append(SDPAttribute("fmtp", "\(rtx) apt=\(payloadType)"))
        }
        if let ssrc = negotiated.localSSRC {
            let track = isVideo ? local.videoTrackID : local.audioTrackID
            var ssrcs = [ssrc]
            if let rtxSSRC = negotiated.localRTXSSRC {
                attributes.append(SDPAttribute("ssrc-group", SDPSourceGroup(semantics: "FID", ssrcs: [ssrc, rtxSSRC]).value))
                ssrcs.append(rtxSSRC)
            }
            for source in ssrcs {
                attributes.append(SDPAttribute("ssrc", "\(source) cname:\(local.cname)"))
                attributes.append(SDPAttribute("ssrc", "\(source) msid:\(local.streamID) \(track)"))
            }
        }
        section.attributes = attributes
        return section
    }

    /// The data channel section (RFC 8841 §5, §6).
    func application(like remote: SDPMediaDescription?, mid: String? = nil) -> SDPMediaDescription {
        let address = defaultAddress
        var section = SDPMediaDescription(
            kind: .application, port: address.port, proto: remote?.proto ?? "UDP/DTLS/SCTP",
            formats: ["webrtc-datachannel"], connections: [address.connection])
        section.attributes = transportAttributes(mid: mid ?? remote?.mid ?? "")
        section.attributes.append(SDPAttribute("sctp-port", String(local.sctpPort)))
        section.attributes.append(SDPAttribute("max-message-size", String(local.maxMessageSize)))
        return section
    }

    /// A rejected section: port 0, the offered formats, and its mid (RFC 8829 §5.3.1, RFC 3264 §6).
    static func rejected(_ remote: SDPMediaDescription) -> SDPMediaDescription {
        var section = SDPMediaDescription(
            kind: remote.kind, port: 0, proto: remote.proto, formats: remote.formats, connections: [.placeholder])
        if let mid = remote.mid { section.attributes = [SDPAttribute("mid", mid)] }
        return section
    }
}
