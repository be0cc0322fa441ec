/// One line of a trace: which thread did what in which kernel function.
public struct TraceEvent: Sendable, Equatable, CustomStringConvertible {
    package var thread: String
    package var function: String
    package var what: String
    /// `THREAD FUNCTION: WHAT`, as a trace line prints.
    public var description: String { "\(thread) \(function): \(what)" }
}

/// Collects trace events, e.g. `A1 wp_page_copy: drop PTL`.
package final class Tracer {
    package private(set) var events: [TraceEvent] = []
    /// Stops recording after this many events (the count of dropped ones is kept).
    package let limit: Int
    package private(set) var dropped = 0
    package init(limit: Int = 1_000_000) { self.limit = limit }
    func record(thread: String, function: String, what: String) {
        if events.count < limit {
            events.append(TraceEvent(thread: thread, function: function, what: what))
        } else {
            dropped += 1
        }
    }
    package func clear() { events.removeAll(keepingCapacity: true); dropped = 0 }
}
