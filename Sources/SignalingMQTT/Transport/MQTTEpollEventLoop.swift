#if os(Linux)
import CMQTTTransport
import Dispatch
import Glibc
import NIOCore
import Synchronization

/// Told which descriptors a ``MQTTEpollEventLoop`` found ready; called on the loop's thread.
protocol MQTTEpollHandler: AnyObject {
    /// One ready descriptor. `flags`: bit 0 readable, bit 1 writable, bit 2 error or hang-up.
    func descriptorReady(_ fd: CInt, flags: UInt32)
    /// Every descriptor one `epoll_wait` reported has been handled.
    func readinessBatchEnded()
    /// The loop is about to end: close what is still open.
    func loopEnding()
}

/// A NIO `EventLoop` of its own: one thread blocked in `epoll_wait` (Linux) that runs tasks,
/// scheduled tasks, and the readiness of the descriptors its ``MQTTEpollHandler`` registers.
///
/// Why: the broker's TCP connections are served from this thread and the broker runs on it too,
/// so a PUBLISH is read, routed and written to its subscribers' sockets in one wake-up, as in
/// mosquitto; with the sockets on a thread of their own and the broker on a NIO loop every
/// message crossed threads once more (an eventfd wake-up, about 40 µs at p50 on the development
/// machine). Everything else (the WebSocket endpoint, the in-process publish API,
/// authentication results) reaches the broker with `execute`, as on any event loop.
///
/// Idle, the thread sleeps in `epoll_wait` until a descriptor, a task (an eventfd) or the
/// earliest scheduled task (its timeout, rounded up to whole milliseconds) wakes it. The
/// thread ends when this object is released (nothing can submit to it any more) or
/// ``shutdownGracefully(queue:_:)`` is called.
final class MQTTEpollEventLoop: EventLoop, Sendable {
    private let core: MQTTEpollLoopCore

    /// Creates the epoll instance and starts the thread.
    init() throws {
        core = try MQTTEpollLoopCore()
        try core.start()
    }

    deinit {
        core.requestStop()
    }

    /// The epoll instance, for registering descriptors (on the loop).
    var epollFD: CInt { core.epollFD }

    /// Sets who handles descriptor readiness; call on the loop.
    func setHandler(_ handler: any MQTTEpollHandler) {
        preconditionInEventLoop()
        core.handler = handler
    }

    var inEventLoop: Bool { core.isLoopThread }

    func execute(_ task: @escaping @Sendable () -> Void) {
        core.enqueue(task)
    }

    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = makePromise(of: T.self)
        let core = self.core
        let run: @Sendable () -> Void = {
            do { promise.assumeIsolated().succeed(try task()) } catch { promise.fail(error) }
        }
        let timer = core.newTimerID()
        if inEventLoop {
            core.addTimer(timer, deadline: deadline, run)
        } else {
            core.enqueue { core.addTimer(timer, deadline: deadline, run) }
        }
        return Scheduled(promise: promise) {
            let cancel: @Sendable () -> Void = {
                if core.removeTimer(timer) { promise.fail(EventLoopError.cancelled) }
            }
            if core.isLoopThread { cancel() } else { core.enqueue(cancel) }
        }
    }

    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(inEventLoop, "not on the MQTT epoll loop", file: file, line: line)
    }

    func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!inEventLoop, "on the MQTT epoll loop", file: file, line: line)
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        core.requestStop { queue.async { callback(nil) } }
    }
}

/// The loop's state and thread body. Fields marked "loop" are touched only on the loop thread.
private final class MQTTEpollLoopCore: @unchecked Sendable {
    // @unchecked: `inbox` is behind a mutex, `loopThread` is atomic, the rest is loop-only.
    private struct Inbox: ~Copyable {
        var tasks: [@Sendable () -> Void] = []
        /// The loop is in (or about to enter) a blocking `epoll_wait`: a new task must wake it.
        var sleeping = false
        /// The eventfd was written and not yet read.
        var woken = false
        var stop = false
        var onStopped: [@Sendable () -> Void] = []
    }

    private struct Timer {
        var id: UInt64
        var deadline: NIODeadline
        var task: @Sendable () -> Void
    }

    let epollFD: CInt
    private let wakeFD: CInt
    private let inbox = Mutex<Inbox>(Inbox())
    private let loopThread = Atomic<UInt>(0)
    private let timerIDs = Atomic<UInt64>(0)
    /// Loop.
    var handler: (any MQTTEpollHandler)?
    /// Loop: scheduled tasks, unordered (the broker keeps one or two).
    private var timers: [Timer] = []

    init() throws {
        let epollFD = cmqtt_epoll_create()
        let wakeFD = cmqtt_eventfd()
        guard epollFD >= 0, wakeFD >= 0, cmqtt_epoll_control(epollFD, 0, wakeFD, 0) == 0 else {
            let code = errno
            if epollFD >= 0 { Glibc.close(epollFD) }
            if wakeFD >= 0 { Glibc.close(wakeFD) }
            throw IOError(errnoCode: code, reason: "epoll")
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
    }

    var isLoopThread: Bool {
        loopThread.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Starts the thread (detached; it holds this object until it ends).
    ///
    /// The thread takes the nice value of the process's main thread. On Linux the nice value is
    /// per thread and a new thread inherits its creator's, and the creator is usually a worker
    /// of Swift's concurrency pool, which libdispatch keeps at the nice value of its QoS class
    /// (0 for the default class): a server started with `nice -n -10` would otherwise run its
    /// broker at 0, behind the clients it serves, and be preempted by them in the middle of a
    /// fan-out each time one of them is woken on its CPU.
    func start() throws {
        final class Body {
            let core: MQTTEpollLoopCore
            let nice: CInt?
            init(_ core: MQTTEpollLoopCore, nice: CInt?) {
                self.core = core
                self.nice = nice
            }
        }
        var nice: CInt = 0
        let processNice: CInt? = cmqtt_process_nice(&nice) == 0 ? nice : nil
        let context = Unmanaged.passRetained(Body(self, nice: processNice)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, CInt(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let code = pthread_create(&thread, &attributes, { context in
            let body = Unmanaged<Body>.fromOpaque(context!).takeRetainedValue()
            // Raising the priority back may be refused without CAP_SYS_NICE: the thread then
            // runs at the nice value it inherited.
            _ = cmqtt_thread_setup("mqtt-broker", body.nice == nil ? 0 : 1, body.nice ?? 0)
            body.core.run()
            return nil
        }, context)
        guard code == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw IOError(errnoCode: code, reason: "pthread_create")
        }
    }

    func enqueue(_ task: @escaping @Sendable () -> Void) {
        let wake = inbox.withLock { inbox -> Bool in
            inbox.tasks.append(task)
            guard inbox.sleeping, !inbox.woken else { return false }
            inbox.woken = true
            return true
        }
        if wake { signal() }
    }

    func requestStop(then onStopped: (@Sendable () -> Void)? = nil) {
        inbox.withLock { inbox in
            inbox.stop = true
            inbox.woken = true
            if let onStopped { inbox.onStopped.append(onStopped) }
        }
        signal()
    }

    private func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    func newTimerID() -> UInt64 {
        timerIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Loop.
    func addTimer(_ id: UInt64, deadline: NIODeadline, _ task: @escaping @Sendable () -> Void) {
        timers.append(Timer(id: id, deadline: deadline, task: task))
    }

    /// Loop. - Returns: whether the timer was still waiting.
    func removeTimer(_ id: UInt64) -> Bool {
        guard let index = timers.firstIndex(where: { $0.id == id }) else { return false }
        timers.remove(at: index)
        return true
    }

    private func run() {
        loopThread.store(UInt(pthread_self()), ordering: .releasing)
        let capacity = 256
        let fds = UnsafeMutablePointer<CInt>.allocate(capacity: capacity)
        let flags = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        defer {
            fds.deallocate()
            flags.deallocate()
        }
        var tasks: [@Sendable () -> Void] = []
        while true {
            // Sleep only when no task is waiting; a task queued after this sees `sleeping`.
            let (hasTasks, stop) = inbox.withLock { inbox -> (Bool, Bool) in
                inbox.sleeping = inbox.tasks.isEmpty && !inbox.stop
                return (!inbox.tasks.isEmpty, inbox.stop)
            }
            if stop { break }
            let timeout = hasTasks ? 0 : timeoutMilliseconds()
            let count = cmqtt_epoll_wait(epollFD, fds, flags, CInt(capacity), timeout)
            if count > 0 {
                var handled = false
                for index in 0..<Int(count) {
                    if fds[index] == wakeFD {
                        var value: UInt64 = 0
                        _ = Glibc.read(wakeFD, &value, 8)
                        inbox.withLock { $0.woken = false }
                    } else if let handler {
                        handler.descriptorReady(fds[index], flags: flags[index])
                        handled = true
                    }
                }
                if handled { handler?.readinessBatchEnded() }
            }
            inbox.withLock { inbox in
                inbox.sleeping = false
                swap(&tasks, &inbox.tasks)
            }
            for task in tasks { task() }
            tasks.removeAll(keepingCapacity: true)
            runExpiredTimers()
        }
        // Tasks queued before the stop still run; scheduled tasks are dropped.
        let (remaining, onStopped) = inbox.withLock { inbox in
            let result = (inbox.tasks, inbox.onStopped)
            inbox.tasks = []
            inbox.onStopped = []
            return result
        }
        for task in remaining { task() }
        handler?.loopEnding()
        handler = nil
        timers = []
        loopThread.store(0, ordering: .releasing)
        Glibc.close(wakeFD)
        Glibc.close(epollFD)
        for callback in onStopped { callback() }
    }

    /// Milliseconds until the earliest scheduled task, rounded up; -1 without any.
    private func timeoutMilliseconds() -> CInt {
        guard let earliest = timers.lazy.map(\.deadline).min() else { return -1 }
        let nanoseconds = (earliest - .now()).nanoseconds
        if nanoseconds <= 0 { return 0 }
        return CInt(clamping: (nanoseconds + 999_999) / 1_000_000)
    }

    private func runExpiredTimers() {
        guard !timers.isEmpty else { return }
        let now = NIODeadline.now()
        var due: [Timer] = []
        timers.removeAll { timer in
            guard timer.deadline <= now else { return false }
            due.append(timer)
            return true
        }
        due.sort { $0.deadline < $1.deadline }
        for timer in due { timer.task() }
    }
}
#endif
