import EventStore
import Ledger
import Projections

/// The streams a writer has read, folded into a `LedgerWorld`, with each stream's stored
/// head (the version and hash the next append chains to). Both the command handler and the
/// importer decide against it; `heads` only change when an append has landed.
struct LoadedStreams {
    var world = LedgerWorld()
    var heads: [StreamName: StreamHead] = [:]

    /// Loads every stream `command` asks for that is not loaded yet, asking again after
    /// each load (an allocation learns its SKU's stream from the order), in one query per round.
    mutating func load(for command: LedgerCommand, from store: EventStore) throws {
        try load(for: [command], from: store)
    }

    /// Loads what a whole batch of commands asks for, one query per round rather than one
    /// per command. (Streams a command only asks for once an earlier command of the batch
    /// has been decided are loaded then, by `load(for:from:)`.)
    mutating func load(for commands: [LedgerCommand], from store: EventStore) throws {
        while true {
            var needed: [StreamName] = []
            var seen: Set<StreamName> = []
            for command in commands {
                for stream in command.streams(in: world) where heads[stream] == nil && seen.insert(stream).inserted {
                    needed.append(stream)
                }
            }
            if needed.isEmpty { return }
            let records = try store.readStreams(needed.map(\.rawValue))
            for stream in needed {
                let stored = records[stream.rawValue] ?? []
                for record in stored { world.apply(try LedgerEvent(record: record), in: stream) }
                heads[stream] = stored.last.map { StreamHead(version: $0.version, hash: $0.hash) } ?? .empty
            }
        }
    }

    /// Forgets everything, after a conflict showed it stale.
    mutating func forget() { self = LoadedStreams() }
}
