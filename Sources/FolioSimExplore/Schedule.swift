import FolioSimModel

/// A schedule: which thread takes each step of an explored run.
///
/// Written as space-separated tokens, one per run of steps: `A1*5` is five steps of thread
/// A1, `B` is one step of B. When the tokens run out the run continues without preemption:
/// the thread that took the last step keeps going while it can, then the first runnable
/// thread in the order of the config's `threads`. So a schedule only spells out the steps up
/// to its last preemption: `A1*9 B*14 A2*31` is Ryan Roberts' race for a config whose threads
/// are A1, B, A2. An empty schedule is the non-preemptive run.
package struct Schedule: Equatable, Sendable, CustomStringConvertible {
    /// Thread names, one per step.
    package var steps: [String]

    package init(steps: [String]) { self.steps = steps }

    /// Parses `A1*5 B A2*3`; the message of the error says what is wrong.
    package static func parse(_ text: String, threads: [String]) throws(ScheduleError) -> Schedule {
        var steps: [String] = []
        for token in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }) {
            let parts = token.split(separator: "*", omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard threads.contains(name) else {
                throw ScheduleError(message: "unknown thread \(JSONWriter.quote(name)) (threads: \(threads.joined(separator: ", ")))")
            }
            var count = 1
            if parts.count == 2 {
                guard let n = Int(parts[1]), n >= 1, n <= 10_000_000 else {
                    throw ScheduleError(message: "bad repeat count in \(JSONWriter.quote(String(token))) (expected NAME*N with N from 1 to 10000000)")
                }
                count = n
            } else if parts.count > 2 {
                throw ScheduleError(message: "bad token \(JSONWriter.quote(String(token))) (expected NAME or NAME*N)")
            }
            guard steps.count + count <= 10_000_000 else {
                throw ScheduleError(message: "schedule longer than 10000000 steps")
            }
            steps += Array(repeating: name, count: count)
        }
        return Schedule(steps: steps)
    }

    /// The run-length form, e.g. `A1*9 B*14 A2*31`.
    package var description: String {
        var out: [String] = []
        var i = 0
        while i < steps.count {
            var j = i
            while j < steps.count && steps[j] == steps[i] { j += 1 }
            out.append(j - i == 1 ? steps[i] : "\(steps[i])*\(j - i)")
            i = j
        }
        return out.joined(separator: " ")
    }
}

/// A schedule that does not parse or cannot run, or explore options that do not fit together.
public struct ScheduleError: Error, Sendable, CustomStringConvertible {
    /// One line for the user.
    public var message: String
    /// The message.
    public var description: String { message }
}
