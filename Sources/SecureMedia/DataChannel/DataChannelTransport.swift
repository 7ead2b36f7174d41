public import NIOCore

/// Drives a ``DataChannelController`` on one event loop with the real clock: feeds it the SCTP
/// packets DTLS decrypted, hands its packets to DTLS, ticks usrsctp's timers at
/// ``DataChannelController/nextTimeout()`` and runs the drain when usrsctp wakes it from
/// another thread. The PeerConnection creates one when DTLS is connected, with
/// `DTLSEndpoint.writeApplicationData` as `output`.
public final class DataChannelTransport: Sendable {
    public let controller: DataChannelController
    public let eventLoop: any EventLoop
    private let output: @Sendable (ByteBuffer) -> Void
    private let onEvent: @Sendable (DataChannelControllerEvent) -> Void
    private let timer: NIOLoopBoundBox<Timer>

    private final class Timer {
        var scheduled: Scheduled<Void>?
        var deadline: NIODeadline?
        var stopped = false
    }

    /// - Parameters:
    ///   - controller: the channels' controller (not started yet).
    ///   - eventLoop: the loop every call happens on.
    ///   - output: sends one SCTP packet as one DTLS record; runs on `eventLoop`.
    ///   - onEvent: the controller's events; runs on `eventLoop`.
    public init(
        controller: DataChannelController, eventLoop: any EventLoop,
        output: @escaping @Sendable (ByteBuffer) -> Void,
        onEvent: @escaping @Sendable (DataChannelControllerEvent) -> Void
    ) {
        self.controller = controller
        self.eventLoop = eventLoop
        self.output = output
        self.onEvent = onEvent
        self.timer = NIOLoopBoundBox.makeBoxSendingValue(Timer(), eventLoop: eventLoop)
        let loop = eventLoop
        controller.setWakeup { [weak self] in
            guard let self else { return }
            loop.execute { self.drain() }
        }
    }

    /// Starts the association (call when DTLS is connected). Must run on `eventLoop`.
    public func start() throws(SCTPError) {
        eventLoop.preconditionInEventLoop()
        try controller.start(now: .now())
        drain()
    }

    /// One DTLS application-data record. Must run on `eventLoop`.
    public func receive(_ packet: ByteBuffer) {
        eventLoop.preconditionInEventLoop()
        controller.receive(packet)
        drain()
    }

    /// Runs the drain now: after a channel was created or written from another thread, so
    /// that what usrsctp queued leaves without waiting for its wakeup. Must run on `eventLoop`.
    public func kick() {
        eventLoop.preconditionInEventLoop()
        drain()
    }

    /// Aborts the association and stops the timer. Must run on `eventLoop`.
    public func close() {
        eventLoop.preconditionInEventLoop()
        controller.close()
        drain()
        let timer = self.timer.value
        timer.stopped = true
        timer.scheduled?.cancel()
        timer.scheduled = nil
    }

    private func drain() {
        while true {
            // Delivers to message handlers too, whose replies are polled below in this pass.
            controller.handlePendingWork()
            var moved = false
            while let packet = controller.pollTransmit() {
                output(packet)
                moved = true
            }
            while let event = controller.pollEvent() {
                onEvent(event)
                moved = true
            }
            if !moved { break }
        }
        schedule()
    }

    private func schedule() {
        let timer = self.timer.value
        guard !timer.stopped, let deadline = controller.nextTimeout() else { return }
        if let current = timer.deadline, timer.scheduled != nil, current <= deadline { return }
        timer.scheduled?.cancel()
        timer.deadline = deadline
        timer.scheduled = eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            let timer = self.timer.value
            timer.scheduled = nil
            timer.deadline = nil
            self.controller.handleTimeout(now: .now())
            self.drain()
        }
    }
}
