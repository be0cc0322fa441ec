import FolioSimModel
import FolioSimExplore


/// A config as the explorer sees it: `steps` are the setup, `threads` the threads, `after`
/// the closing operations whose observations are a run's outcome.
extension Scenario: ExplorableProgram {
    /// The `threads` section's names, in order.
    public var threadNames: [String] { threads.map(\.name) }

    /// A fresh world with `steps` run, and the user space that runs `threads` and `after`.
    public func setUp() async -> (world: World, userSpace: any UserSpace) {
        let world = newWorld()
        let state = RunState(world: world)
        await state.runSteps(steps, check: .off, label: "step")
        return (world, ScenarioUserSpace(self, state))
    }
}

/// The user space of an explored config: its `RunState`, and each thread's operations (its
/// steps with their repetitions) in order.
final class ScenarioUserSpace: UserSpace {
    /// Per thread: (index of the step in the thread, the op of one repetition).
    let operations: [[(step: Int, op: Op)]]
    let names: [String]
    let after: [Step]
    /// Steps before the threads' (for error reports: a thread's step k is step offset + k).
    let offset: Int
    let state: RunState

    init(_ scenario: Scenario, _ state: RunState) {
        operations = scenario.threads.map { th in
            th.steps.enumerated().flatMap { i, step in (0..<step.repeatCount).map { (i, step.op($0)) } }
        }
        names = scenario.threads.map(\.name)
        after = scenario.after
        offset = scenario.steps.count
        self.state = state
    }

    private init(_ o: ScenarioUserSpace, _ state: RunState) {
        operations = o.operations; names = o.names; after = o.after; offset = o.offset
        self.state = state
    }

    /// In a copy, as in `threads` and `after`, a process must exist before a step names it.
    func copy(in world: World) -> any UserSpace {
        let s = RunState(copying: state, world: world)
        s.createsProcesses = false
        return ScenarioUserSpace(self, s)
    }

    func operationCount(ofThread t: Int) -> Int { operations[t].count }

    func operation(ofThread t: Int, _ k: Int) -> any DescribedOperation { operations[t][k].op }

    func run(thread t: Int, operation k: Int) async -> [String] {
        let before = state.errors.count
        let (i, op) = operations[t][k]
        await state.execute(op, step: offset + i, threadName: names[t])
        return state.errors[before...].map { "\($0.operation): \($0.message)" }
    }

    var errorCount: Int { state.errors.count }

    func runAfter() async -> [Observation] {
        state.observations = []
        await state.runSteps(after, check: .off, stepOffset: offset + names.count, label: "after")
        defer { state.observations = nil }
        return state.observations ?? []
    }
}
