/// The pin sources that the kernel's COW selftest (tools/testing/selftests/mm/cow.c) uses,
/// built on GUP:
/// - `vmsplice` (fs/splice.c `vmsplice_to_pipe` → `iov_iter_get_pages2` →
///   `get_user_pages_fast`): FOLL_GET references, no FOLL_PIN, held by a pipe of 16 slots;
///   reading the pipe (`pipe_read`) copies the pages' data as it is then and drops the
///   references.
/// - io_uring fixed buffers (io_uring/rsrc.c `io_sqe_buffers_register` → `io_pin_pages`):
///   `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)`; IORING_OP_WRITE_FIXED reads the
///   pinned pages.
/// - gup_test (mm/gup_test.c `pin_longterm_test_start` / `_read`): an R/O FOLL_LONGTERM pin
///   with `pin_user_pages` or `pin_user_pages_fast`, and a copy of the pinned pages' data.
/// Left out: a page is one data word, so a pipe or a pin reads whole pages; partial pages,
/// pipe buffer merging and the io_uring ring itself are not modelled.
extension World {
    /// Pages one pipe holds (`PIPE_DEF_BUFFERS`).
    package static let pipeCapacityPages = 16

    /// `vmsplice(fd, {addr, nrPages pages}, 1, 0)` into the pipe `pipe`: references at most
    /// as many pages as the pipe has free slots. Returns how many pages it took.
    @discardableResult
    package func vmsplice(_ t: SimThread, pipe: String, addr: UInt64, nrPages: Int) async throws(MMError) -> Int {
        let n = min(nrPages, Self.pipeCapacityPages - pinTable.pagesHeld(pipe))
        guard n > 0 else { throw .einval("pipe \(pipe) is full") }
        try await pin(t, id: pipe, addr: addr, nrPages: n, flags: [.get], fast: true)
        trace(t, "vmsplice_to_pipe", "\(n) page\(n == 1 ? "" : "s") at \(VirtualAddress(addr)) into pipe \(pipe)")
        return n
    }

    /// `read(pipe)`: the data of every page the pipe references, oldest first; the pipe's
    /// references are dropped (`anon_pipe_buf_release` → `put_page`). The reference vmsplice
    /// took for each buffer (FOLL_GET) keeps its page alive until then, whatever the process
    /// did to its mapping. Nil when the pipe is empty.
    package func readPipe(_ t: SimThread?, pipe: String) async -> [UInt32]? {
        var data: [UInt32] = []
        var chunks: [PinRecord] = []
        while let i = pinTable.held(pipe) {
            chunks.insert(pinTable.record(i), at: 0)
            pinTable.release(i)
        }
        guard !chunks.isEmpty else { return nil }
        for chunk in chunks {
            data += chunk.pages.map { memory.data($0) }
            let mm = mms[chunk.mm]
            await unpinUserPages(t ?? threads.first { $0.mm === mm }, chunk.pages, flags: [.get], mm: mm, function: "pipe_read", step: "anon_pipe_buf_release: put_page")
        }
        return data
    }

    /// `io_uring_register_buffers` of `nrPages` pages at `addr` as the fixed buffer `id`.
    @discardableResult
    package func iouringRegister(_ t: SimThread, id: String, addr: UInt64, nrPages: Int) async throws(MMError) -> [PFN] {
        try await pin(t, id: id, addr: addr, nrPages: nrPages, flags: [.pin, .write, .longterm], fast: true)
    }

    /// gup_test `PIN_LONGTERM_TEST_START` without PIN_LONGTERM_TEST_FLAG_USE_WRITE: an R/O
    /// long-term pin (GUP-fast first with `fast`).
    @discardableResult
    package func gupTestPin(_ t: SimThread, id: String, addr: UInt64, nrPages: Int, fast: Bool) async throws(MMError) -> [PFN] {
        try await pin(t, id: id, addr: addr, nrPages: nrPages, flags: [.pin, .longterm], fast: fast)
    }

    /// What a device sees through the held pin `id` (IORING_OP_WRITE_FIXED from the fixed
    /// buffer, gup_test `PIN_LONGTERM_TEST_READ`): the data of the pinned pages now.
    package func readPinned(id: String) -> [UInt32]? {
        guard let i = pinTable.held(id) else { return nil }
        return pinTable.record(i).pages.map { memory.data($0) }
    }
}
