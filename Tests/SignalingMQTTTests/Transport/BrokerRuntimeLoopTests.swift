import NIOCore
import SignalingMQTT
import Synchronization
import Testing

/// The event loop a runtime makes for itself (on Linux the epoll loop that also serves TCP):
/// it must behave as any NIO event loop does, since the WebSocket endpoint, the publish API,
/// futures and the broker's timers all run on it, and it must end with its runtime.
@Suite(.timeLimit(.minutes(1)))
struct BrokerRuntimeLoopTests {
    typealias Runtime = MQTTBrokerRuntime<OpenBrokerPolicy>

    static func runtime() -> Runtime {
        Runtime(broker: MQTTBroker(configuration: .init(), policy: OpenBrokerPolicy()))
    }

    @Test func tasksFromOtherThreadsRunOnTheLoopInTheOrderTheyWereQueued() async throws {
        let runtime = Self.runtime()
        let loop = runtime.loop
        #expect(!loop.inEventLoop)
        let seen = Mutex<[Int]>([])
        let onLoop = Mutex<[Bool]>([])
        for index in 0..<500 {
            loop.execute {
                seen.withLock { $0.append(index) }
                onLoop.withLock { $0.append(loop.inEventLoop) }
            }
        }
        let last = try await loop.submit { seen.withLock { $0.count } }.get()
        #expect(last == 500)
        #expect(seen.withLock { $0 } == Array(0..<500))
        #expect(onLoop.withLock { $0 }.allSatisfy { $0 })
    }

    @Test func aTaskQueuedFromTheLoopItselfRunsAfterTheCurrentOne() async throws {
        let runtime = Self.runtime()
        let loop = runtime.loop
        let order = Mutex<[String]>([])
        let done = loop.makePromise(of: Void.self)
        loop.execute {
            loop.execute {
                order.withLock { $0.append("inner") }
                done.succeed()
            }
            order.withLock { $0.append("outer") }
        }
        try await done.futureResult.get()
        #expect(order.withLock { $0 } == ["outer", "inner"])
    }

    @Test func scheduledTasksRunInDeadlineOrderAndACancelledOneNever() async throws {
        let runtime = Self.runtime()
        let loop = runtime.loop
        let order = Mutex<[Int]>([])
        let start = NIODeadline.now()
        let late = loop.scheduleTask(deadline: start + .milliseconds(30)) { order.withLock { $0.append(30) } }
        let early = loop.scheduleTask(deadline: start + .milliseconds(5)) { order.withLock { $0.append(5) } }
        let cancelled = loop.scheduleTask(deadline: start + .milliseconds(15)) { order.withLock { $0.append(15) } }
        cancelled.cancel()
        try await early.futureResult.get()
        try await late.futureResult.get()
        #expect(NIODeadline.now() >= start + .milliseconds(30))
        #expect(order.withLock { $0 } == [5, 30])
        await #expect(throws: EventLoopError.self) { try await cancelled.futureResult.get() }
    }

    @Test func aScheduledTaskThatThrowsFailsItsFuture() async throws {
        struct Expected: Error {}
        let runtime = Self.runtime()
        let task = runtime.loop.scheduleTask(in: .milliseconds(1)) { () throws -> Int in throw Expected() }
        await #expect(throws: Expected.self) { try await task.futureResult.get() }
    }

    #if os(Linux)
    @Test func theLoopIsReleasedWithItsRuntimeAfterShutdown() async throws {
        weak var weakLoop: (any EventLoop)?
        do {
            let runtime = Self.runtime()
            _ = try await runtime.listenTCP(host: "127.0.0.1", port: 0)
            weakLoop = runtime.loop
            try await runtime.publish(topic: "t", payload: ByteBuffer(string: "x"), retain: true)
            await runtime.shutdown()
        }
        // Tasks and futures still in flight may hold it for a moment.
        _ = try await poll("the loop to be released", timeout: .seconds(5)) { weakLoop == nil ? true : nil }
    }
    #endif
}
