public import ICEAgent

/// Something that holds `a=` lines: the session level or a media section. The typed accessors
/// read the attributes of that level only; ``SDPSessionDescription`` adds lookups that fall
/// back from media to session level where RFC 8839/8842/8829 allow both.
///
/// Values that break their grammar are skipped by the accessors; ``SDPSessionDescription/parse(_:)``
/// has already refused them for parsed descriptions.
public protocol SDPAttributeCarrier {
    var attributes: [SDPAttribute] { get set }
}

extension SDPAttributeCarrier {
    /// The values of every `a=<name>:<value>` line, in order.
    public func attributeValues(_ name: String) -> [String] {
        attributes.compactMap { $0.name == name ? ($0.value ?? "") : nil }
    }

    /// The value of the first `a=<name>` line.
    public func attributeValue(_ name: String) -> String? {
        attributes.first { $0.name == name }.map { $0.value ?? "" }
    }

    /// True when an `a=<name>` line is present.
    public func hasAttribute(_ name: String) -> Bool { attributes.contains { $0.name == name } }

    /// `a=mid` (RFC 5888 §4, RFC 8843 §7.1).
    public var mid: String? { attributeValue("mid") }

    /// The direction attribute written at this level, nil when none is (RFC 8866 §6.7: sendrecv).
    public var direction: SDPDirection? {
        attributes.lazy.compactMap { $0.value == nil ? SDPDirection(rawValue: $0.name) : nil }.first
    }

    /// `a=ice-ufrag` (RFC 8839 §5.4).
    public var iceUsernameFragment: String? { attributeValue("ice-ufrag") }
    /// `a=ice-pwd` (RFC 8839 §5.4).
    public var icePassword: String? { attributeValue("ice-pwd") }
    /// Both, when present and within RFC 8445 §5.3's limits.
    public var iceCredentials: IceCredentials? {
        guard let ufrag = iceUsernameFragment, let password = icePassword else { return nil }
        return try? IceCredentials(usernameFragment: ufrag, password: password)
    }
    /// `a=ice-options` tokens, e.g. `trickle` (RFC 8839 §5.6).
    public var iceOptions: [String] {
        attributeValues("ice-options").flatMap { $0.split(separator: " ").map(String.init) }
    }
    /// `a=ice-lite` (RFC 8839 §5.3), a session-level property.
    public var iceLite: Bool { hasAttribute("ice-lite") }
    /// `a=candidate` lines that parse (RFC 8839 §5.1); unparsable ones (e.g. a transport we do
    /// not know) are left out, as RFC 8839 §5.1 says to ignore them.
    public var candidates: [IceCandidate] {
        attributes.compactMap { attribute in
            guard attribute.name == "candidate", let value = attribute.value else { return nil }
            return try? IceCandidate(sdp: "candidate:" + value)
        }
    }
    /// `a=end-of-candidates` (RFC 8838 §8.2).
    public var endOfCandidates: Bool { hasAttribute("end-of-candidates") }

    /// `a=fingerprint` (RFC 8122 §5).
    public var fingerprints: [DTLSFingerprint] { attributeValues("fingerprint").compactMap { DTLSFingerprint(sdpValue: $0) } }
    /// `a=setup` (RFC 4145 §4, RFC 8842 §5).
    public var setup: SDPSetupRole? { attributeValue("setup").flatMap { SDPSetupRole(rawValue: $0) } }

    /// `a=group` lines (RFC 5888 §5).
    public var groups: [SDPGroup] { attributeValues("group").compactMap { SDPGroup(value: $0) } }
    /// The first `a=group:BUNDLE` (RFC 8843 §7).
    public var bundleGroup: SDPGroup? { groups.first { $0.semantics == "BUNDLE" } }

    /// `a=rtcp-mux` (RFC 5761 §5.1.3).
    public var rtcpMux: Bool { hasAttribute("rtcp-mux") }
    /// `a=rtcp-rsize` (RFC 5506 §5).
    public var rtcpReducedSize: Bool { hasAttribute("rtcp-rsize") }

    /// `a=rtpmap` lines.
    public var rtpMaps: [SDPRTPMap] { attributeValues("rtpmap").compactMap { SDPRTPMap(value: $0) } }
    /// `a=fmtp` lines.
    public var formatParameters: [SDPFormatParameters] {
        attributeValues("fmtp").compactMap { SDPFormatParameters(value: $0) }
    }
    /// `a=rtcp-fb` lines.
    public var rtcpFeedback: [SDPRTCPFeedback] { attributeValues("rtcp-fb").compactMap { SDPRTCPFeedback(value: $0) } }
    /// `a=extmap` lines.
    public var extensionMaps: [SDPExtensionMap] { attributeValues("extmap").compactMap { SDPExtensionMap(value: $0) } }
    /// `a=ssrc` lines.
    public var sources: [SDPSourceAttribute] { attributeValues("ssrc").compactMap { SDPSourceAttribute(value: $0) } }
    /// `a=ssrc-group` lines.
    public var sourceGroups: [SDPSourceGroup] { attributeValues("ssrc-group").compactMap { SDPSourceGroup(value: $0) } }
    /// `a=msid` lines (RFC 8830 §2).
    public var mediaStreamIDs: [SDPMediaStreamID] { attributeValues("msid").compactMap { SDPMediaStreamID(value: $0) } }

    /// `a=sctp-port` (RFC 8841 §5).
    public var sctpPort: UInt16? { attributeValue("sctp-port").flatMap { parseNumber($0, as: UInt16.self) } }
    /// `a=max-message-size` (RFC 8841 §6); 0 means no limit.
    public var maxMessageSize: UInt64? { attributeValue("max-message-size").flatMap { parseNumber($0, as: UInt64.self) } }
}

extension SDPMediaDescription {
    /// The rtpmap of one payload type.
    public func rtpMap(for payloadType: UInt8) -> SDPRTPMap? { rtpMaps.first { $0.payloadType == payloadType } }

    /// The fmtp of one payload type.
    public func formatParameters(for payloadType: UInt8) -> SDPFormatParameters? {
        formatParameters.first { $0.format == String(payloadType) }
    }

    /// The rtcp-fb lines that apply to one payload type, `*` lines included.
    public func rtcpFeedback(for payloadType: UInt8) -> [SDPRTCPFeedback] {
        rtcpFeedback.filter { $0.format == "*" || $0.format == String(payloadType) }
    }

    /// The payload types of the `m=` line, in preference order; formats that are not numbers are skipped.
    public var payloadTypes: [UInt8] { formats.compactMap { parseNumber($0, as: UInt8.self) } }

    /// `a=ssrc-group:FID` pairs: (media SSRC, RTX SSRC).
    public var retransmissionPairs: [(media: UInt32, rtx: UInt32)] {
        sourceGroups.compactMap { group in
            group.semantics == "FID" && group.ssrcs.count == 2 ? (group.ssrcs[0], group.ssrcs[1]) : nil
        }
    }
}

extension SDPSessionDescription {
    /// Media-level values win over session-level ones (RFC 8839 §5.4, RFC 8842 §5.1).
    public func iceCredentials(forMedia index: Int) -> IceCredentials? {
        guard media.indices.contains(index) else { return iceCredentials }
        let section = media[index]
        if section.iceUsernameFragment != nil || section.icePassword != nil { return section.iceCredentials }
        return iceCredentials
    }

    /// Media-level fingerprints, else the session-level ones (RFC 8122 §5).
    public func fingerprints(forMedia index: Int) -> [DTLSFingerprint] {
        guard media.indices.contains(index), !media[index].fingerprints.isEmpty else { return fingerprints }
        return media[index].fingerprints
    }

    /// Media-level `a=setup`, else the session-level one (RFC 4145 §4).
    public func setup(forMedia index: Int) -> SDPSetupRole? {
        guard media.indices.contains(index), let role = media[index].setup else { return setup }
        return role
    }

    /// Media-level direction, else session-level, else sendrecv (RFC 8866 §6.7).
    public func direction(forMedia index: Int) -> SDPDirection {
        (media.indices.contains(index) ? media[index].direction : nil) ?? direction ?? .sendrecv
    }

    /// `ice-options` at media and session level together.
    public func iceOptions(forMedia index: Int) -> [String] {
        (media.indices.contains(index) ? media[index].iceOptions : []) + iceOptions
    }

    /// The index of the media section with this `a=mid`.
    public func mediaIndex(mid: String) -> Int? { media.firstIndex { $0.mid == mid } }
}
