import Foundation

/// Work on the pages of a whole-log read (`verify`, `projections rebuild`), overlapped with
/// the read and spread over the cores.
///
/// A fold needs every event before it, so it runs on one thread; but most of the work per
/// event — parsing its JSON, re-encoding it canonically, decoding the typed event, turning it
/// back into its command — needs nothing but the event itself. So each page the reading
/// thread submits is cut into chunks that `prepare` turns into items on any free core, and
/// each consumer then takes the prepared pages strictly in log order on its own thread. The
/// reading thread goes on with the next page meanwhile, and waits only when `inFlight` pages
/// are already queued, so memory stays bounded by a few pages.
final class PagePipeline<Item: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: each consumer closure is called only on its own serial queue, one
    // page at a time, in submission order; the rest is immutable or thread-safe (GCD).
    private let consumers: [(queue: DispatchQueue, consume: ([[Item]]) -> Void)]
    private let done = DispatchGroup()
    private let slots: DispatchSemaphore
    private let chunks: Int

    /// `consumers`: each is given every page's items (as chunks, in order), in log order.
    init(inFlight: Int = 4, chunks: Int = max(2, ProcessInfo.processInfo.activeProcessorCount), consumers: [([[Item]]) -> Void]) {
        slots = DispatchSemaphore(value: inFlight)
        self.chunks = chunks
        self.consumers = consumers.enumerated().map { i, consume in
            (DispatchQueue(label: "ledger.pipeline.consumer\(i)"), consume)
        }
    }

    /// Prepares items `0 ..< count` of one page in chunks (`prepare` gets a range and returns
    /// that range's items in order), then hands them to every consumer after the pages
    /// submitted before.
    func submit(count: Int, prepare: @escaping @Sendable (Range<Int>) -> [Item]) {
        guard count > 0 else { return }
        slots.wait()
        let parts = Swift.min(chunks, Swift.max(1, count / 256))
        let results = ChunkResults<Item>(count: parts)
        let prepared = DispatchGroup()
        for part in 0..<parts {
            let range = (count * part / parts)..<(count * (part + 1) / parts)
            DispatchQueue.global().async(group: prepared) { results.set(part, prepare(range)) }
        }
        let consumed = DispatchGroup()
        for index in consumers.indices {
            consumed.enter()
            done.enter()
            consumers[index].queue.async {
                prepared.wait()
                self.consumers[index].consume(results.all)
                consumed.leave()
                self.done.leave()
            }
        }
        consumed.notify(queue: .global()) { self.slots.signal() }
    }

    /// Waits until every page submitted so far is consumed.
    func finish() {
        done.wait()
    }
}

/// One page's prepared chunks: each slot is written once, by its own task, before the
/// page's group is left; consumers read them only after waiting on that group.
private final class ChunkResults<Item>: @unchecked Sendable {
    // Raw storage: tasks write distinct slots at once, which a Swift array property would
    // not allow (exclusive access to the whole array).
    private let slots: UnsafeMutablePointer<[Item]>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [], count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ index: Int, _ items: [Item]) { slots[index] = items }

    var all: [[Item]] { Array(UnsafeBufferPointer(start: slots, count: count)) }
}
