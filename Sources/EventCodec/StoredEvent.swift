import EventStore
import Ledger
import Postgres

/// The event codec, in a module of its own so that the write side (LedgerApp, which folds
/// streams) and the read side (Projections) both use it without importing each other.

/// Why a stored event could not be read back as a ledger event.
public struct UnreadableEvent: Error, Sendable, CustomStringConvertible {
    public var position: Int64
    public var reason: String
    public var description: String { "event at position \(position) cannot be read: \(reason)" }

    public init(position: Int64, reason: String) {
        self.position = position
        self.reason = reason
    }
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
