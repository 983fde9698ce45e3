import EventStore
import Ledger
import Postgres

/// Why a stored event could not be read back as a ledger event.
public struct UnreadableEvent: Error, Sendable, CustomStringConvertible {
    public var position: Int64
    public var reason: String
    public var description: String { "event at position \(position) cannot be read: \(reason)" }
}

extension LedgerEvent {
    /// Reads a stored event as the domain's typed event, upcasting old schema versions.
    public init(record: EventRecord) throws(UnreadableEvent) {
        do {
            let day = try Day(
                year: record.businessDate.year, month: record.businessDate.month, day: record.businessDate.day)
            self = try LedgerEvent.decode(
                type: record.type, schemaVersion: record.schemaVersion, date: day, payload: record.payload)
        } catch {
            throw UnreadableEvent(position: record.position, reason: "\(error)")
        }
    }
}

extension Day {
    /// The same date as PostgreSQL's `date`.
    public var sqlDate: SQLDate { SQLDate(year: year, month: month, day: day) }
}
