import EventCodec
import EventStore
import Foundation
import JSON
import Ledger

/// What every appended event carries besides its fact, whichever path appended it (a
/// `ledger` command through `CommandHandler`, an import line through `Importer`): who issued
/// the command, which command, one correlation id shared by the events of that command (an
/// allocation's two events), the idempotency key it was recorded under when there is one to
/// show, and what the path adds (`import_line`). One envelope, so the two paths cannot drift.
struct AppendEnvelope {
    let actor: String
    let command: LedgerCommand
    var idempotencyKey: String?
    var extra: [String: JSON] = [:]

    /// The events a decision appends, each in this envelope.
    func events(for decisions: [(stream: StreamName, event: LedgerEvent)]) -> [NewEvent] {
        var metadata: [String: JSON] = [
            "actor": .string(actor), "command": .string(command.name),
            "correlation_id": .string(UUID.random().lowercasedString),
        ]
        if let idempotencyKey { metadata["idempotency_key"] = .string(idempotencyKey) }
        metadata.merge(extra) { _, new in new }
        return decisions.map { decision in
            NewEvent(
                stream: decision.stream.rawValue, type: decision.event.type,
                schemaVersion: decision.event.schemaVersion, payload: decision.event.payload,
                metadata: .object(metadata), businessDate: decision.event.date.sqlDate)
        }
    }
}
