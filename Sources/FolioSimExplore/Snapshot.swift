import FolioSimModel

/// A program's world right after its setup, built once per exploration: every explored run
/// starts from a deep copy of it (`World(copying:)`) instead of replaying the setup. The
/// setup is checked once, here.
final class Snapshot {
    let program: any ExplorableProgram
    let world: World
    let userSpace: any UserSpace
    /// The violation the setup already causes, if any: then there is nothing to explore.
    let setupViolation: Violation?
    /// The model's object hashes for the state cache, computed on first use.
    lazy var stateBase = StateHasher.Base(world)
    var threadNames: [String] { program.threadNames }

    private init(program: any ExplorableProgram, world: World, userSpace: any UserSpace, setupViolation: Violation?) {
        self.program = program
        self.world = world
        self.userSpace = userSpace
        self.setupViolation = setupViolation
    }

    static func make(_ program: any ExplorableProgram) async -> Snapshot {
        let (world, userSpace) = await program.setUp()
        world.currentOperation = "end of steps"
        world.checkInvariants()
        return Snapshot(program: program, world: world, userSpace: userSpace, setupViolation: world.violations.first)
    }
}
