/// One STUN attribute, typed.
///
/// Every attribute of RFC 8489, the ICE attributes of RFC 8445, the TURN attributes of
/// RFC 8656 and the NAT-behaviour attributes of RFC 5780 has a case; anything else
/// decodes to ``unknown(type:value:)`` and encodes back unchanged.
public enum StunAttribute: Hashable, Sendable {
    // RFC 8489 §14
    case mappedAddress(TransportAddress)
    case xorMappedAddress(TransportAddress)
    case username(String)
    case userhash([UInt8])
    case messageIntegrity([UInt8])
    case messageIntegritySHA256([UInt8])
    case fingerprint(UInt32)
    case errorCode(StunErrorCode)
    case realm(String)
    case nonce(String)
    case passwordAlgorithms([PasswordAlgorithm])
    case passwordAlgorithm(PasswordAlgorithm)
    case unknownAttributes([StunAttributeType])
    case software(String)
    case alternateServer(TransportAddress)
    case alternateDomain(String)
    // RFC 8445 §7.1.1, §7.1.2, §7.1.3
    case priority(UInt32)
    case useCandidate
    case iceControlled(tieBreaker: UInt64)
    case iceControlling(tieBreaker: UInt64)
    // RFC 8656 §18
    case channelNumber(UInt16)
    case lifetime(seconds: UInt32)
    case xorPeerAddress(TransportAddress)
    case data([UInt8])
    case xorRelayedAddress(TransportAddress)
    case requestedAddressFamily(AddressFamily)
    case evenPort(reserveNextPort: Bool)
    case requestedTransport(protocolNumber: UInt8)
    case dontFragment
    case reservationToken([UInt8])
    case additionalAddressFamily(AddressFamily)
    case addressErrorCode(family: AddressFamily, error: StunErrorCode)
    case icmp(type: UInt16, code: UInt8, errorData: UInt32)
    // RFC 5780 §7
    case changeRequest(changeIP: Bool, changePort: Bool)
    case responseOrigin(TransportAddress)
    case otherAddress(TransportAddress)
    case responsePort(UInt16)
    case padding(length: Int)
    /// An attribute this library does not model, kept as its raw value.
    case unknown(type: StunAttributeType, value: [UInt8])

    /// The attribute type code this value is sent under.
    public var type: StunAttributeType {
        switch self {
        case .mappedAddress: .mappedAddress
        case .xorMappedAddress: .xorMappedAddress
        case .username: .username
        case .userhash: .userhash
        case .messageIntegrity: .messageIntegrity
        case .messageIntegritySHA256: .messageIntegritySHA256
        case .fingerprint: .fingerprint
        case .errorCode: .errorCode
        case .realm: .realm
        case .nonce: .nonce
        case .passwordAlgorithms: .passwordAlgorithms
        case .passwordAlgorithm: .passwordAlgorithm
        case .unknownAttributes: .unknownAttributes
        case .software: .software
        case .alternateServer: .alternateServer
        case .alternateDomain: .alternateDomain
        case .priority: .priority
        case .useCandidate: .useCandidate
        case .iceControlled: .iceControlled
        case .iceControlling: .iceControlling
        case .channelNumber: .channelNumber
        case .lifetime: .lifetime
        case .xorPeerAddress: .xorPeerAddress
        case .data: .data
        case .xorRelayedAddress: .xorRelayedAddress
        case .requestedAddressFamily: .requestedAddressFamily
        case .evenPort: .evenPort
        case .requestedTransport: .requestedTransport
        case .dontFragment: .dontFragment
        case .reservationToken: .reservationToken
        case .additionalAddressFamily: .additionalAddressFamily
        case .addressErrorCode: .addressErrorCode
        case .icmp: .icmp
        case .changeRequest: .changeRequest
        case .responseOrigin: .responseOrigin
        case .otherAddress: .otherAddress
        case .responsePort: .responsePort
        case .padding: .padding
        case .unknown(let type, _): type
        }
    }
}

/// Size limits on text values (RFC 8489 §14.3, §14.8, §14.9, §14.10, §14.14, §14.16).
enum StunLimits {
    static let username = 512
    static let realm = 763
    static let nonce = 763
    static let software = 763
    static let reason = 763
    static let alternateDomain = 255
}
