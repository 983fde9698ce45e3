import Foundation
import Synchronization

/// Runs `body` on `count` OS threads at once and waits for all of them; `beforeStart` runs
/// on the calling thread once they are all spawned. Threads, not tasks: libpq blocks, and a
/// blocked task would hold one of the few cooperative threads and hide the concurrency
/// (concurrent bench clients, concurrency tests).
public func runOnThreads<T: Sendable>(
    _ count: Int, _ body: @escaping @Sendable (Int) throws -> T, beforeStart: () -> Void = {}
) -> [Result<T, any Error>] {
    let results = Mutex<[Int: Result<T, any Error>]>([:])
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            let result = Result { try body(i) }
            results.withLock { $0[i] = result }
            group.leave()
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
    beforeStart()
    group.wait()
    return results.withLock { r in (0..<count).map { r[$0]! } }
}
