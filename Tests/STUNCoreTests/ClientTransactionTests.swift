import NIOCore
import STUNCore
import Testing

/// Simulated time: seconds (as milliseconds) after an arbitrary start.
func at(_ milliseconds: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(1_000_000_000 + milliseconds * 1_000_000)) }

func milliseconds(_ deadline: NIODeadline) -> Int64 { (Int64(deadline.uptimeNanoseconds) - 1_000_000_000) / 1_000_000 }

/// What happened while a transaction was driven to its end.
struct Run: Equatable {
    var sends: [Int64] = []
    var endedAt: Int64?
}

/// Drives a transaction the way a socket loop does: handle the timeout when it is due, then
/// drain transmissions; never sleeps.
func drive(_ transaction: inout StunClientTransaction, pollFirst: Bool = false, until limit: Int64 = .max) -> Run {
    var run = Run()
    var now: Int64 = 0
    if pollFirst, transaction.pollTransmit() != nil { run.sends.append(now) }
    for _ in 0..<100 {
        guard let next = transaction.nextTimeout() else { break }
        now = milliseconds(next)
        guard now <= limit else { break }
        transaction.handleTimeout(now: next)
        while transaction.pollTransmit() != nil { run.sends.append(now) }
        if transaction.state != .pending { run.endedAt = now }
    }
    return run
}

@Suite("STUN client transaction")
struct ClientTransactionTests {
    static let request = StunMessage(method: .binding, messageClass: .request, transactionID: .fixture)

    static func start(_ configuration: StunClientTransaction.Configuration = .init()) -> StunClientTransaction {
        StunClientTransaction(message: request, configuration: configuration, now: at(0))
    }

    static func response(_ messageClass: StunClass = .successResponse, id: TransactionID = .fixture) -> StunMessage {
        StunMessage(method: .binding, messageClass: messageClass, transactionID: id, attributes: [.xorMappedAddress(.v4Sample)])
    }

    @Test func overUDPItSendsSevenTimesWithDoublingIntervalsAndFailsAt39Point5Seconds() {
        var transaction = Self.start()
        let run = drive(&transaction)
        #expect(run.sends == [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500])
        #expect(run.endedAt == 39_500)
        #expect(transaction.state == .timedOut)
        #expect(transaction.transmissions == 7)
        #expect(transaction.nextTimeout() == nil)
        let sent = transaction.pollTransmit()
        #expect(sent == nil)
    }

    @Test func theScheduleIsTheSameWhenTheCallerPollsBeforeTheFirstTimeout() {
        var transaction = Self.start()
        let run = drive(&transaction, pollFirst: true)
        #expect(run.sends == [0, 500, 1_500, 3_500, 7_500, 15_500, 31_500])
        #expect(run.endedAt == 39_500)
        #expect(transaction.transmissions == 7)
    }

    @Test func eachTimeoutIsKnownBeforeTheTransmissionIsPolled() {
        var transaction = Self.start()
        #expect(transaction.nextTimeout() == at(0))
        var expected: [Int64] = [500, 1_500, 3_500, 7_500, 15_500, 31_500, 39_500]
        var now: Int64 = 0
        while !expected.isEmpty {
            transaction.handleTimeout(now: at(now))
            let next = expected.removeFirst()
            #expect(transaction.nextTimeout() == at(next), "after the send at \(now)")
            let sent = transaction.pollTransmit()
            #expect(sent == Self.request.encoded(fingerprint: true))
            #expect(transaction.nextTimeout() == at(next))
            now = next
        }
    }

    @Test func aTimeoutHandledEarlyChangesNothing() {
        var transaction = Self.start()
        transaction.handleTimeout(now: at(0))
        _ = transaction.pollTransmit()
        transaction.handleTimeout(now: at(499))
        let sent = transaction.pollTransmit()
        #expect(sent == nil)
        #expect(transaction.transmissions == 1)
        #expect(transaction.nextTimeout() == at(500))
        transaction.handleTimeout(now: at(500))
        let sentAgain = transaction.pollTransmit()
        #expect(sentAgain != nil)
        #expect(transaction.transmissions == 2)
    }

    @Test func overTCPItSendsOnceAndFailsAt39Point5Seconds() {
        var transaction = Self.start(.init(reliable: true))
        let run = drive(&transaction)
        #expect(run.sends == [0])
        #expect(run.endedAt == 39_500)
        #expect(transaction.state == .timedOut)
        #expect(transaction.transmissions == 1)
    }

    @Test func overTCPTheDeadlineIsKnownBeforeTheSendIsPolled() {
        var transaction = Self.start(.init(reliable: true))
        transaction.handleTimeout(now: at(0))
        #expect(transaction.nextTimeout() == at(39_500))
    }

    @Test("custom RTO, Rc and Rm set the schedule", arguments: [
        (StunClientTransaction.Configuration(initialRTO: .milliseconds(100), maxTransmissions: 3, lastWaitMultiplier: 4),
         Run(sends: [0, 100, 300], endedAt: 700)),
        (StunClientTransaction.Configuration(initialRTO: .milliseconds(250), maxTransmissions: 1, lastWaitMultiplier: 2),
         Run(sends: [0], endedAt: 500)),
        (StunClientTransaction.Configuration(initialRTO: .seconds(1), maxTransmissions: 9, lastWaitMultiplier: 16),
         Run(sends: [0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000, 127_000, 255_000], endedAt: 271_000)),
        (StunClientTransaction.Configuration(reliableTimeout: .seconds(5), reliable: true), Run(sends: [0], endedAt: 5_000)),
    ])
    func customConfiguration(configuration: StunClientTransaction.Configuration, expected: Run) {
        var transaction = Self.start(configuration)
        #expect(drive(&transaction) == expected)
    }

    @Test("a success or error response with the transaction id completes it", arguments: [StunClass.successResponse, .errorResponse])
    func aMatchingResponseCompletes(messageClass: StunClass) {
        var transaction = Self.start()
        _ = drive(&transaction, until: 1_500)
        #expect(transaction.transmissions == 3)
        let response = Self.response(messageClass)
        let accepted = transaction.handleResponse(response)
        #expect(accepted)
        #expect(transaction.state == .completed(response))
        #expect(transaction.nextTimeout() == nil)
        let sent = transaction.pollTransmit()
        #expect(sent == nil)
        let acceptedAgain = transaction.handleResponse(response)
        #expect(!acceptedAgain)
        transaction.handleTimeout(now: at(100_000))
        #expect(transaction.state == .completed(response))
    }

    @Test func aResponseWithAnotherTransactionIDIsIgnored() {
        var transaction = Self.start()
        _ = drive(&transaction, until: 0)
        let accepted = transaction.handleResponse(Self.response(id: TransactionID(high: 1, low: 2)))
        #expect(!accepted)
        #expect(transaction.state == .pending)
        #expect(drive(&transaction).sends == [500, 1_500, 3_500, 7_500, 15_500, 31_500])
    }

    @Test("a request or indication with the transaction id is ignored", arguments: [StunClass.request, .indication])
    func aNonResponseIsIgnored(messageClass: StunClass) {
        var transaction = Self.start()
        _ = drive(&transaction, until: 0)
        let accepted = transaction.handleResponse(Self.response(messageClass))
        #expect(!accepted)
        #expect(transaction.state == .pending)
    }

    @Test func cancelStopsTransmissionsAndIgnoresLateResponses() {
        var transaction = Self.start()
        _ = drive(&transaction, until: 500)
        transaction.cancel()
        #expect(transaction.state == .cancelled)
        #expect(transaction.nextTimeout() == nil)
        let sent = transaction.pollTransmit()
        #expect(sent == nil)
        transaction.handleTimeout(now: at(1_500))
        let sentAgain = transaction.pollTransmit()
        #expect(sentAgain == nil)
        let accepted = transaction.handleResponse(Self.response())
        #expect(!accepted)
        #expect(transaction.state == .cancelled)
        #expect(transaction.transmissions == 2)
    }

    @Test func theConvenienceInitialiserSendsTheEncodedRequestWithFingerprintAndIntegrity() throws {
        let key = StunKey.shortTerm(password: "pw")
        var transaction = StunClientTransaction(message: Self.request, integrity: key, now: at(0))
        transaction.handleTimeout(now: at(0))
        let sent = transaction.pollTransmit()
        let bytes = try #require(sent)
        #expect(transaction.request == bytes)
        #expect(transaction.transactionID == .fixture)
        let decoded = try StunMessage(decoding: bytes)
        #expect(decoded.hasFingerprint)
        #expect(decoded.isAuthentic(key: key))
    }

    @Test func theDefaultsAreTheRFCValues() {
        let configuration = StunClientTransaction.Configuration()
        #expect(configuration.initialRTO == .milliseconds(500))
        #expect(configuration.maxTransmissions == 7)
        #expect(configuration.lastWaitMultiplier == 16)
        #expect(configuration.reliableTimeout == .milliseconds(39_500))
        #expect(!configuration.reliable)
    }
}
