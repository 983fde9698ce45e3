import ArgumentParser
import EventStore
import JSON
import Ledger
import LedgerApp
import Postgres

// MARK: - period

struct PeriodGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "period", abstract: "Close the books through a date, reopen them, list closes.",
        subcommands: writeCommands(in: "period") + [PeriodStatus.self])
}

struct PeriodStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Every close and reopen, oldest first.",
        discussion: """
            Columns: action (close|reopen), through, position, recorded_at, actor, reason.
            Example:
              ledger period status --format json
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try Self.listing(EventStore(connection: try global.connect())).print(global.format)
    }

    static func listing(_ store: EventStore) throws -> Listing {
        let rows: [JSON] = try store.readStream(StreamName.periods.rawValue).map { e in
            [
                "action": .string(e.type == "period.closed" ? "close" : "reopen"),
                "through": e.payload["through"] ?? .null, "position": JSON(e.position),
                "recorded_at": .string(e.recordedAt.description), "actor": e.metadata["actor"] ?? .null,
                "reason": e.payload["reason"] ?? .null,
            ]
        }
        return Listing(columns: ["action", "through", "position", "recorded_at", "actor", "reason"], rows: rows)
    }
}
