/// What kernel paths report about user data as they set, clear, copy and move PTEs: the
/// tracepoints of the user-data check. Not kernel state; the model declares them, the
/// checker subscribes (`WrittenShadow`), as a tracer would.
protocol UserDataEvents: AnyObject {
    /// The MMU stored `value` for the user through the anonymous page behind `slot`.
    func userStored(_ slot: PTESlot, _ value: UInt32)
    /// The entry at `slot` was zapped: what the user wrote there is gone.
    func pteCleared(_ slot: PTESlot)
    /// fork copied `count` entries from `s[si...]` to `d[di...]`: the child sees what the
    /// parent wrote.
    func ptesCopied(from s: Int32, _ si: Int, to d: Int32, _ di: Int, count: Int)
    /// mremap moved `count` entries (`move_ptes`): the source loses them.
    func ptesMoved(from s: Int32, _ si: Int, to d: Int32, _ di: Int, count: Int)
    /// A PTE table (a new one, or a freed one reused) starts empty.
    func tableCreated(_ id: Int32)
}
