/// One line of a trace: which thread did what in which kernel function.
public struct TraceEvent: Sendable, Equatable, CustomStringConvertible {
    public var thread: String
    public var function: String
    public var what: String
    public var description: String { "\(thread) \(function): \(what)" }
}

/// Collects trace events, e.g. `A1 wp_page_copy: drop PTL`.
public final class Tracer {
    public private(set) var events: [TraceEvent] = []
    /// Stops recording after this many events (the count of dropped ones is kept).
    public let limit: Int
    public private(set) var dropped = 0
    public init(limit: Int = 1_000_000) { self.limit = limit }
    func record(thread: String, function: String, what: String) {
        if events.count < limit {
            events.append(TraceEvent(thread: thread, function: function, what: what))
        } else {
            dropped += 1
        }
    }
    public func clear() { events.removeAll(keepingCapacity: true); dropped = 0 }
}
