/// What kind of file backs a mapping.
package enum FileKind: String, Sendable, CaseIterable {
    /// A regular file on a filesystem without dirty tracking (written pages stay in the pagecache).
    case regular
    /// A memfd (shmem-backed).
    case memfd
}

/// A file and its pagecache: one order-0 folio per cached page, created on first access with
/// data word 0 (a fresh sparse file or memfd). Left out: readahead, writeback, large pagecache
/// folios and truncation.
package final class SimFile {
    package let name: String
    package let kind: FileKind
    /// Pagecache: page index → folio PFN (0 = not cached; PFN 0 is the zero page, never a file page).
    package internal(set) var pages: [UInt32] = []
    init(name: String, kind: FileKind) { self.name = name; self.kind = kind }
    init(copying o: SimFile) { name = o.name; kind = o.kind; pages = o.pages }
}

extension World {
    /// Returns the index of the file called `name`, creating it on first use.
    package func fileIndex(named name: String, kind: FileKind) -> Int {
        if _slowPath(accessLogging), let l = log { l.note(.processes, write: true) }
        if let i = files.firstIndex(where: { $0.name == name }) { return i }
        files.append(SimFile(name: name, kind: kind))
        return files.count - 1
    }

    /// `filemap_get_folio` without creating: the cached folio of page `index`, if any.
    func pagecacheLookup(file: Int, index: UInt64) -> PFN? {
        let f = files[file]
        let i = Int(index)
        let v = i < f.pages.count ? f.pages[i] : 0
        if _slowPath(accessLogging), let l = log { l.note(.pagecache(file: file), write: false, value: UInt64(v) << 32 | index) }
        return v != 0 ? PFN(v) : nil
    }

    /// `filemap_get_folio` / `filemap_fault` without I/O: the pagecache folio of page `index`,
    /// allocated (and added with the pagecache's own reference) on first access. Nil on OOM.
    func pagecacheFolio(file: Int, index: UInt64) -> PFN? {
        if let cached = pagecacheLookup(file: file, index: index) { return cached }
        let f = files[file]
        let i = Int(index)
        if _slowPath(accessLogging), let l = log { l.note(.pagecache(file: file), write: true) }
        guard let folio = allocFolioReclaiming(order: 0) else { return nil }
        memory.set(folio, PageFlag.file | PageFlag.uptodate | PageFlag.lru)
        if i >= f.pages.count { f.pages += Array(repeating: 0, count: i + 1 - f.pages.count) }
        f.pages[i] = folio.raw
        if checkState != nil { pagecacheAdded.append(folio.raw) }
        return folio
    }
}
