import FolioSimModel

/// What one `after` step observed, for the outcomes of an exploration: a read's value (or
/// values, for more than one page), the data read through a pin or a pipe, `checkPin`'s
/// verdict, or the error of a step that failed.
public enum Observation: Hashable, Sendable, CustomStringConvertible {
    case value(UInt32)
    case values([UInt32])
    /// `checkPin`'s verdict (`PinCheck.verdict`).
    case verdict(String)
    case error(String)

    /// Data words as one observation: a number for one page, a list for more.
    package static func data(_ d: [UInt32]) -> Observation { d.count == 1 ? .value(d[0]) : .values(d) }

    package var json: JSONValue {
        switch self {
        case .value(let v): .int(Int(v))
        case .values(let vs): .array(vs.map { .int(Int($0)) })
        case .verdict(let s): .string(s)
        case .error(let s): .string("error: " + s)
        }
    }
    /// The observation as JSON on one line.
    public var description: String { JSONWriter.write(json, indent: nil) }

    /// The text of a list of observations, `[2, "coherent"]`: what outcomes are grouped and
    /// ordered by, and how they print.
    package static func render(_ obs: [Observation]) -> String { JSONWriter.write(.array(obs.map(\.json)), indent: nil) }
}

