import ArgumentParser
import EventStore
import JSON
import Postgres

/// How events print: the contract's keys, plus payload and metadata in `ledger events`.
enum EventListing {
    static func listing(_ events: [EventRecord], withBodies: Bool) -> Listing {
        var columns = ["position", "stream", "version", "type", "date", "recorded_at"]
        if withBodies { columns += ["payload", "metadata"] }
        let rows: [JSON] = events.map { e in
            var row: [String: JSON] = [
                "position": JSON(e.position), "stream": .string(e.stream), "version": JSON(e.version),
                "type": .string(e.type), "date": .string(e.businessDate.description),
                "recorded_at": .string(e.recordedAt.description),
            ]
            if withBodies {
                row["payload"] = e.payload
                row["metadata"] = e.metadata
            }
            return .object(row)
        }
        return Listing(columns: columns, rows: rows)
    }
}

struct EventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Print the event log, in order.",
        discussion: """
            Events come in the log's order, the order projections apply them: by writing \
            transaction, then position. Only events whose transactions are settled are listed, \
            so paging with --after never skips an event that commits late.
            Examples:
              ledger events --stream order-ntt-001
              ledger events --after 120 --limit 50 --format json
            """)
    @OptionGroup var global: ReadOptions
    @Option(help: ArgumentHelp("Only this stream, e.g. order-ntt-001.", valueName: "stream")) var stream: String?
    @Option(help: ArgumentHelp("Start after the event at this position.", valueName: "position")) var after: Int64?
    @Option(help: ArgumentHelp("At most this many events.", valueName: "n")) var limit: Int?
    @Option(
        name: .customLong("known-at"),
        help: ArgumentHelp("Only events recorded at or before this instant (RFC 3339).", valueName: "timestamp"))
    var knownAt: String?

    func validate() throws {
        if let after, after < 0 { throw ValidationError("--after must be 0 or a positive position") }
        if let limit, limit < 1 { throw ValidationError("--limit must be a positive number") }
    }

    func run() throws {
        var knownBy: Timestamp?
        if let knownAt {
            guard let instant = Timestamp(rfc3339: knownAt) else {
                throw CLIError.usage("--known-at: '\(knownAt)' is not an RFC 3339 timestamp — e.g. 2026-10-01T09:00:00+09:00")
            }
            knownBy = instant
        }
        func known(_ e: EventRecord) -> Bool { knownBy.map { e.recordedAt <= $0 } ?? true }
        let store = EventStore(connection: try global.connect())
        var events: [EventRecord]
        if let stream {
            events = try store.readStream(stream).filter(known)
            if let after { events = events.filter { $0.position > after } }
            if let limit { events = Array(events.prefix(limit)) }
        } else {
            var checkpoint = try store.checkpoint(afterPosition: after ?? 0)
            events = []
            let wanted = limit ?? Int.max
            while events.count < wanted {
                let batch = try store.readAll(after: checkpoint, limit: min(10_000, wanted - events.count))
                guard let last = batch.last else { break }
                events += batch.filter(known)
                checkpoint = last.checkpoint
            }
        }
        EventListing.listing(events, withBodies: true).print(global.format)
    }
}
