/// Picks the codec we send from a peer's RTP section: H.264 for video, Opus for audio.
enum SDPCodecSelection {
    /// The chosen payload type and, when offered for it, its RTX payload type.
    struct Choice: Hashable {
        var map: SDPRTPMap
        var parameters: SDPFormatParameters?
        var rtxPayloadType: UInt8?
    }

    /// A choice, or why there is none.
    enum Outcome {
        case chosen(Choice)
        case unavailable(String)
    }

    /// RTCP feedback we act on (RFC 4585, RFC 5104, goog-remb, transport-cc).
    static let supportedFeedback: Set<String> = ["nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"]
    /// Header extensions we write.
    static let supportedExtensions: Set<String> = [
        SDPExtensionMap.absSendTime, SDPExtensionMap.transportWideCC, SDPExtensionMap.mid,
    ]
    /// Opus parameters whose offered values we repeat (RFC 7587 §6.1).
    static let understoodOpusParameters = [
        "minptime", "useinbandfec", "stereo", "sprop-stereo", "maxaveragebitrate", "maxplaybackrate", "cbr", "usedtx",
    ]

    /// How much we like an H.264 `profile-level-id` (RFC 6184 §8.1): 0 constrained baseline
    /// (`42e0xx`, any profile_idc 0x42 with constraint_set1), 1 baseline (`4200xx`; also the
    /// default `420010` when absent), 2 main (`4d00xx`); nil for profiles we do not encode
    /// (High `64xxxx`, High 4:4:4 `f4xxxx`, ...). Any level is accepted.
    static func h264Rank(_ parameters: SDPFormatParameters?) -> Int? {
        guard let text = parameters?["profile-level-id"] else { return 1 }
        guard text.utf8.count == 6, let value = UInt32(text, radix: 16) else { return nil }
        let profile = UInt8(value >> 16)
        let constraints = UInt8((value >> 8) & 0xFF)
        switch profile {
        case 0x42: return constraints & 0x40 != 0 ? 0 : 1
        case 0x4D: return 2
        default: return nil
        }
    }

    /// H.264 with packetization-mode=1 and a profile we encode, the best rank first, then the
    /// peer's order (RFC 3264 §6.1: the m= line lists formats in preference order).
    static func chooseVideo(in media: SDPMediaDescription) -> Outcome {
        let maps = media.rtpMaps
        var best: (rank: Int, choice: Choice)?
        var seenH264 = false
        for payloadType in media.payloadTypes {
            guard let map = maps.first(where: { $0.payloadType == payloadType }),
                map.encodingName.lowercased() == "h264", map.clockRate == 90_000
            else { continue }
            seenH264 = true
            let parameters = media.formatParameters(for: payloadType)
            // RFC 6184 §8.1: packetization-mode absent means 0 (single NAL unit only).
            guard parameters?["packetization-mode"] == "1", let rank = h264Rank(parameters) else { continue }
            if best == nil || rank < best!.rank {
                best = (rank, Choice(map: map, parameters: parameters, rtxPayloadType: rtx(for: payloadType, in: media)))
            }
        }
        if let best { return .chosen(best.choice) }
        let offered = offeredCodecs(media)
        if seenH264 {
            let variants = media.payloadTypes.compactMap { payloadType -> String? in
                guard media.rtpMap(for: payloadType)?.encodingName.lowercased() == "h264" else { return nil }
                let parameters = media.formatParameters(for: payloadType)
                return "profile-level-id=\(parameters?["profile-level-id"] ?? "absent") "
                    + "packetization-mode=\(parameters?["packetization-mode"] ?? "0")"
            }
            return .unavailable(
                "offer has H.264 only as \(variants.joined(separator: ", ")); H.264 with packetization-mode=1 and "
                    + "profile-level-id 42e0xx, 4200xx or 4d00xx needed")
        }
        return .unavailable(
            "offer has only \(offered.isEmpty ? "no codecs" : offered.joined(separator: ", ")); "
                + "H.264 with packetization-mode=1 needed")
    }

    /// Opus 48000/2 (RFC 7587 §7), the first one offered.
    static func chooseAudio(in media: SDPMediaDescription) -> Outcome {
        let maps = media.rtpMaps
        for payloadType in media.payloadTypes {
            guard let map = maps.first(where: { $0.payloadType == payloadType }),
                map.encodingName.lowercased() == "opus", map.clockRate == 48_000, map.encodingParameters == "2"
            else { continue }
            return .chosen(Choice(map: map, parameters: media.formatParameters(for: payloadType), rtxPayloadType: nil))
        }
        let offered = offeredCodecs(media)
        return .unavailable(
            "offer has only \(offered.isEmpty ? "no codecs" : offered.joined(separator: ", ")); Opus 48000/2 needed")
    }

    /// The `rtx` payload type whose `apt` names `payloadType` (RFC 4588 §8.6).
    static func rtx(for payloadType: UInt8, in media: SDPMediaDescription) -> UInt8? {
        let maps = media.rtpMaps
        for candidate in media.payloadTypes {
            guard let map = maps.first(where: { $0.payloadType == candidate }), map.encodingName.lowercased() == "rtx",
                media.formatParameters(for: candidate)?["apt"] == String(payloadType)
            else { continue }
            return candidate
        }
        return nil
    }

    /// The Opus fmtp we answer with: `minptime=10;useinbandfec=1`, with the offered values of
    /// the parameters we understand taking their place or following (RFC 7587 §7.1).
    static func opusAnswerParameters(offered: SDPFormatParameters?, payloadType: UInt8) -> SDPFormatParameters {
        var parameters = [
            SDPFormatParameters.Parameter("minptime", offered?["minptime"] ?? "10"),
            SDPFormatParameters.Parameter("useinbandfec", offered?["useinbandfec"] ?? "1"),
        ]
        for key in understoodOpusParameters.dropFirst(2) {
            if let value = offered?[key] { parameters.append(.init(key, value)) }
        }
        return SDPFormatParameters(format: String(payloadType), parameters: parameters)
    }

    /// Distinct encoding names of the section's formats, in order, for error messages; RTX,
    /// RED and FEC formats are left out as they carry no media of their own.
    static func offeredCodecs(_ media: SDPMediaDescription) -> [String] {
        var names: [String] = []
        for payloadType in media.payloadTypes {
            guard let name = media.rtpMap(for: payloadType)?.encodingName ?? staticPayloadName(payloadType) else {
                continue
            }
            if ["rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event"].contains(name.lowercased()) { continue }
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    /// RFC 3551 §6 static payload types that appear without an rtpmap.
    private static func staticPayloadName(_ payloadType: UInt8) -> String? {
        switch payloadType {
        case 0: "PCMU"
        case 8: "PCMA"
        case 9: "G722"
        case 18: "G729"
        default: "payload type \(payloadType)"
        }
    }
}
