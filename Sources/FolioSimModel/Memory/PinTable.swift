/// GUP references held by a simulated driver (`pin` op, a pipe, an io_uring fixed buffer):
/// pages grabbed with FOLL_PIN or FOLL_GET at `addr` of mm `mm`.
package struct PinRecord: Sendable {
    package var id: String
    package var mm: Int
    package var addr: UInt64
    package var pages: [PFN]
    package var flags: GUPFlags
    package var released = false
    /// The user-activity clock when the GUP call began and when the driver got its pages
    /// (`UserActivity`): the pin checks exempt what the user unmapped or moved meanwhile.
    package var since: Int
    package var registered: Int
}

/// The table of pins the simulated drivers hold, in the order taken. Private storage behind
/// accessors that record what they touch: which ids exist (`pinTable`) and the pins kept on
/// each folio (`pins(folio)`), so that a pin taken or released conflicts with the per-step
/// check that reads the pins of a folio the other step changed.
package final class PinTable {
    private var records: [PinRecord] = []
    /// Set through `World.log` while an explorer runs.
    var log: AccessLog?
    /// Frames' folios, to name the `pins` objects.
    private unowned let memory: PhysicalMemory

    init(memory: PhysicalMemory) { self.memory = memory }
    init(copying o: PinTable, memory: PhysicalMemory) {
        records = o.records
        self.memory = memory
    }

    @inline(__always) private func note(_ o: PointObject, write: Bool, value: UInt64 = 0) {
        if _slowPath(accessLogging), let l = log { l.note(o, write: write, value: value) }
    }
    private func notePages(_ pages: [PFN], write: Bool) {
        guard _slowPath(accessLogging), let l = log else { return }
        for p in pages where p.index < memory.frameCount {
            l.note(.pins(memory.peekFolio(of: p)), write: write)
        }
    }

    /// The newest held pin called `id` (its index), if any.
    func held(_ id: String) -> Int? {
        note(.pinTable, write: false, value: UInt64(records.count))
        return records.lastIndex { $0.id == id && !$0.released }
    }
    func record(_ i: Int) -> PinRecord {
        note(.pinTable, write: false, value: UInt64(i))
        return records[i]
    }
    /// Pages held under `id` (a pipe's fill level).
    func pagesHeld(_ id: String) -> Int {
        note(.pinTable, write: false, value: UInt64(records.count))
        return records.filter { $0.id == id && !$0.released }.reduce(0) { $0 + $1.pages.count }
    }
    func add(_ r: PinRecord) {
        note(.pinTable, write: true)
        notePages(r.pages, write: true)
        records.append(r)
    }
    func release(_ i: Int) {
        note(.pinTable, write: true)
        notePages(records[i].pages, write: true)
        records[i].released = true
    }

    /// Every pin record, released ones included (for the checker and reports: unlogged).
    package var all: [PinRecord] { records }
}

/// The driver side of pinning: a simulated driver pins (or references) user pages through
/// GUP and holds them until it releases them.
extension World {
    /// A simulated driver pins `nrPages` pages at `addr` of `t`'s mm (`pin_user_pages*`, or
    /// `get_user_pages*` with FOLL_GET; GUP-fast first with `fast`) and holds them as `id`.
    /// The pages a GUP call has kept are the thread's (`SimThread.gupKept`) until the driver
    /// holds them.
    @discardableResult
    package func pin(_ t: SimThread, id: String, addr: UInt64, nrPages: Int = 1, flags: GUPFlags,
                    fast: Bool = false) async throws(MMError) -> [PFN] {
        let since = userActivity.tick()
        let got: [PFN]
        do {
            got = fast ? try await getUserPagesFast(t, addr: addr, nrPages: nrPages, flags: flags)
                       : try await getUserPages(t, addr: addr, nrPages: nrPages, flags: flags)
        } catch {
            t.gupKept = []
            throw error
        }
        t.gupKept = []
        pinTable.add(PinRecord(id: id, mm: t.mm.index, addr: addr, pages: got, flags: flags,
                               since: since, registered: userActivity.tick()))
        return got
    }

    /// Releases the newest held pin called `id` (`unpin_user_pages` / `put_page`).
    package func releasePin(id: String, by t: SimThread? = nil) async {
        guard let i = pinTable.held(id) else { return }
        let pin = pinTable.record(i)
        let mm = mms[pin.mm]
        pinTable.release(i)
        await unpinUserPages(t ?? threads.first { $0.mm === mm }, pin.pages, flags: pin.flags, mm: mm)
    }

    /// The pins held now (for the checker and reports).
    package var pins: [PinRecord] { pinTable.all }

    /// A GUP call of `t` keeps `page`: from now on it is a pin for the checker (FOLL_PIN).
    func gupKeep(_ t: SimThread, _ page: PFN, _ flags: GUPFlags) {
        guard flags.contains(.pin) else { return }
        if _slowPath(accessLogging), let l = log { l.note(.pins(memory.folio(of: page)), write: true) }
        t.gupKept.append((page, flags))
    }
}
