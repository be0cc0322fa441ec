import FolioSimModel
import FolioSimExplore

/// The FolioSim side of kernel-diff: the config's `steps` run to completion one op at a
/// time (as `foliosim run` does), each measured as the host helper measures it
/// (`StepMeasure`): the faults and COW-copied pages of the process that ran it, its
/// MM_ANONPAGES afterwards, and the mTHP counters of every process added up (the host's
/// are system-wide).
enum SimRun {
    static func measure(_ scenario: Scenario, _ plan: HostPlan) async -> [StepMeasure?] {
        let world = scenario.newWorld()
        let state = RunState(world: world)
        var out: [StepMeasure?] = []
        for step in plan.steps {
            let op = scenario.steps[step.index].op(step.repetition)
            // The plan names the process of an io_uring buffer's `unpin` (the op names none).
            let process = op.process ?? (step.command != nil ? step.process : nil)
            let mm = process.flatMap { state.thread($0)?.mm }
            let before = mm?.stats
            let mthpBefore = mthp(world)
            var movedFrom: [UInt32?] = []
            if case .mremap(let a, let s, _)? = step.command, let mm { movedFrom = frames(world, mm, a, s) }
            let errors = state.errors.count
            let reads = state.reads.count
            await state.runStep(scenario.steps[step.index], index: step.index, repetition: step.repetition)
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
            if case .mremap(_, let s, let to)? = step.command, let mm {
                let now = frames(world, mm, to, s)
                m.moved = movedFrom.indices.filter { movedFrom[$0] != nil && now[$0] == movedFrom[$0] }.count
            }
            let mthpAfter = mthp(world)
            for o in THPSettings.anonOrders { m.mthp[o] = mthpAfter[o] - mthpBefore[o] }
            out.append(m)
        }
        return out
    }

    /// The page frame mapped at each page of [addr, addr + size) (nil where none).
    static func frames(_ world: World, _ mm: MM, _ addr: UInt64, _ size: UInt64) -> [UInt32?] {
        stride(from: addr, to: addr + size, by: Int(Geometry.pageSize)).map { a -> UInt32? in
            let pmd = world.pmdEntry(mm, a)
            if pmd.isHuge { return pmd.pfn.raw + UInt32((a & (Geometry.pmdSize - 1)) >> Geometry.pageShift) }
            let pte = world.readPTE(mm, a)
            return pte.isPresent ? pte.pfn.raw : nil
        }
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
