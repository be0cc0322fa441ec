/// The FolioSim side of kernel-diff: the config's `steps` run to completion one op at a
/// time (as `foliosim run` does), each measured as the host helper measures it
/// (`StepMeasure`): the faults and COW-copied pages of the process that ran it, its
/// MM_ANONPAGES afterwards, and the mTHP counters of every process added up (the host's
/// are system-wide).
enum SimRun {
    static func measure(_ scenario: Scenario, _ plan: HostPlan) async -> [StepMeasure?] {
        let world = World(memoryBytes: scenario.memoryBytes, swapBytes: scenario.swapBytes,
                          semantics: scenario.semantics, thp: scenario.thp)
        let state = RunState(world: world)
        var out: [StepMeasure?] = []
        for step in plan.steps {
            let op = scenario.steps[step.index].op(step.repetition)
            // The plan names the process of an io_uring buffer's `unpin` (the op names none).
            let process = op.process ?? (step.command != nil ? step.process : nil)
            let mm = process.flatMap { state.thread($0)?.mm }
            let before = mm?.stats
            let mthpBefore = mthp(world)
            let errors = state.errors.count
            let reads = state.reads.count
            world.operation = .step(section: "step", index: step.index, repetition: step.repetition,
                                    count: scenario.steps[step.index].repeatCount, op: op)
            await state.execute(op, step: step.index)
            guard step.command != nil else { out.append(nil); continue }
            var m = StepMeasure()
            if state.errors.count > errors { m.error = state.errors[errors].message }
            if case .readPipe? = step.command { m.data = state.reads.count > reads ? state.reads[reads].data : [] }
            if let mm, let before {
                let after = mm.stats
                m.faults = after.faultsTotal - before.faultsTotal
                m.rss = mm.alive ? mm.rssAnon : 0
                switch step.command {
                case .write?, .touch(_, _, _, _, true, _)?:
                    m.copied = Int((after.cowCopiedBytes - before.cowCopiedBytes) >> Geometry.pageShift)
                default: break
                }
            }
            let mthpAfter = mthp(world)
            for o in THPSettings.anonOrders { m.mthp[o] = mthpAfter[o] - mthpBefore[o] }
            out.append(m)
        }
        return out
    }

    /// The mTHP counters of every process, by order.
    static func mthp(_ world: World) -> [MTHPCounters] {
        var total = Array(repeating: MTHPCounters(), count: Geometry.pmdOrder + 1)
        for mm in world.mms {
            let s = mm.stats
            for o in THPSettings.anonOrders { total[o] = total[o] + s.mthp[o] }
        }
        return total
    }
}
