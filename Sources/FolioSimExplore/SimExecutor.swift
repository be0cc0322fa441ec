import FolioSimModel

/// A single-threaded task executor whose jobs run only when the explorer drains it
/// (SE-0417 executor preference). Every simulated thread is a `Task` that prefers this
/// executor, so the threads of one explored run take turns on the explorer's own OS thread:
/// when another thread is chosen at a scheduling point, the running one parks on an unsafe
/// continuation and resumes the chosen one, whose job runs next when the queue is drained.
/// No job ever reaches the global pool, so the order of everything is the explorer's choice.
final class SimExecutor: TaskExecutor, @unchecked Sendable {
    private var queue: [UnownedJob] = []
    private var head = 0

    func enqueue(_ job: consuming ExecutorJob) {
        queue.append(UnownedJob(job))
    }

    /// Runs queued jobs (and the jobs they enqueue) until none is left.
    func drain() {
        let me = asUnownedTaskExecutor()
        while head < queue.count {
            let job = queue[head]
            head += 1
            job.runSynchronously(on: me)
        }
        queue.removeAll(keepingCapacity: true)
        head = 0
    }
}
