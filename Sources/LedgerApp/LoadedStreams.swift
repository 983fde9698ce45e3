import EventCodec
import EventStore
import JSON
import Ledger

/// The streams a writer has read, folded into a `LedgerWorld`, with each stream's stored
/// head (the version and hash the next append chains to). Both the command handler and the
/// importer decide against it; `heads` only change when an append has landed.
struct LoadedStreams {
    var world = LedgerWorld()
    var heads: [StreamName: StreamHead] = [:]
    /// Today in the ledger's time zone (kept across `forget`).
    var today: Day?

    init(today: Day? = nil) {
        self.today = today
        world.today = today
    }

    /// Loads every stream `command` asks for that is not loaded yet, asking again after
    /// each load (an allocation learns its SKU's stream from the order), in one query per round.
    mutating func load(for command: LedgerCommand, from store: EventStore) throws {
        try load(for: [command], from: store)
    }

    /// Loads what a whole batch of commands asks for, one query per round rather than one
    /// per command. (Streams a command only asks for once an earlier command of the batch
    /// has been decided are loaded then, by `load(for:from:)`.)
    mutating func load(for commands: [LedgerCommand], from store: EventStore) throws {
        // A reversal names a position: find the streams of the command that appended it.
        for command in commands {
            if case .reverse(let position, _, _) = command.action, world.streamsOfCommand[position] == nil {
                world.streamsOfCommand[position] = try store.streamsOfCommand(containing: position)
                    .map(StreamName.init(rawValue:))
            }
        }
        let keepHistory = Set(world.streamsOfCommand.values.joined())
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
                let events = try stored.map { (position: $0.position, event: try LedgerEvent(record: $0)) }
                world.apply(stream: stream, events: events)
                if keepHistory.contains(stream) {
                    world.history[stream] = zip(stored, events).map { record, logged in
                        LoggedFact(
                            position: record.position, stream: stream, event: logged.event,
                            correlation: record.metadata["correlation_id"]?.stringValue
                                ?? record.metadata["idempotency_key"]?.stringValue)
                    }
                }
                heads[stream] = stored.last.map { StreamHead(version: $0.version, hash: $0.hash) } ?? .empty
            }
        }
    }

    /// Forgets everything, after a conflict showed it stale.
    mutating func forget() { self = LoadedStreams(today: today) }

    /// Forgets every loaded stream but those in `kept` (they are loaded again when a command
    /// asks for them).
    mutating func forget(allBut kept: Set<StreamName>) {
        for stream in heads.keys where !kept.contains(stream) {
            heads[stream] = nil
            world.forget(stream)
        }
    }
}
