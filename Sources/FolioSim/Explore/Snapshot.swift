/// A config's world right after its `steps`, built once per exploration: every explored run
/// starts from a deep copy of it (`World(copying:)`) instead of replaying the steps. The
/// steps are checked once, here.
final class Snapshot {
    let scenario: Scenario
    let world: World
    let state: RunState
    /// The violation the steps already cause, if any: then there is nothing to explore.
    let setupViolation: Violation?
    /// The model's object hashes for the state cache, computed on first use.
    lazy var stateBase = StateHasher.Base(world)

    private init(scenario: Scenario, world: World, state: RunState, setupViolation: Violation?) {
        self.scenario = scenario
        self.world = world
        self.state = state
        self.setupViolation = setupViolation
    }

    static func make(_ scenario: Scenario) async -> Snapshot {
        let world = scenario.newWorld()
        let state = RunState(world: world)
        await state.runSteps(scenario.steps, check: .off, label: "step")
        world.currentOperation = "end of steps"
        world.checkInvariants()
        return Snapshot(scenario: scenario, world: world, state: state, setupViolation: world.violations.first)
    }
}
