import FolioSimModel

/// What the explorer explores: named threads, each a list of operations on a world, after a
/// setup. The experiments layer's `Scenario` is one (its `steps`, `threads` and `after`);
/// the explorer knows nothing of configs.
public protocol ExplorableProgram: Sendable {
    /// The threads, in the order schedules number them.
    var threadNames: [String] { get }
    /// The program's own explore options (a config's `explore` section), if any.
    var explore: ExploreOptions? { get }
    /// A fresh world with the setup run (every operation to its end, unchecked), and the user
    /// space that runs the threads' operations in it. Built once per exploration; every
    /// explored run starts from a copy.
    func setUp() async -> (world: World, userSpace: any UserSpace)
}

/// The user-space side of an explored program in one world: which process each thread acts
/// in, the pins and pipes it holds, the errors its operations returned.
public protocol UserSpace: AnyObject {
    /// A copy that acts on `world`, a copy (`World(copying:)`) of this one's world.
    func copy(in world: World) -> any UserSpace
    /// How many operations thread `t` runs.
    func operationCount(ofThread t: Int) -> Int
    /// Operation `k` of thread `t`, for violation reports.
    func operation(ofThread t: Int, _ k: Int) -> any DescribedOperation
    /// Runs operation `k` of thread `t` to its end (its kernel paths reach the world's
    /// scheduling points); returns the errors it returned, one line each.
    func run(thread t: Int, operation k: Int) async -> [String]
    /// Errors returned so far (part of the explored state: a failed operation leaves no other
    /// trace in the world).
    var errorCount: Int { get }
    /// Runs the program's closing operations once every thread is done, unchecked; returns
    /// what they observed (the run's outcome).
    func runAfter() async -> [Observation]
}
