import Crypto
import Foundation
import JSON
import Postgres

/// The hash chain: each event's hash is SHA-256 over its predecessor's hash (32 zero bytes
/// for a stream's first event) followed by the canonical JSON encoding of
/// `[event_id, stream, version, type, schema_version, business_date, payload, metadata]`.
/// Canonical JSON (sorted keys, no whitespace, numbers as written) survives a JSONB round
/// trip, so `verify` can recompute every hash from what PostgreSQL returns.
public enum EventHash {
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public static func hash(
        previous: [UInt8], eventID: UUID, stream: String, version: Int64, type: String, schemaVersion: Int,
        businessDate: SQLDate, payload: JSON, metadata: JSON
    ) -> [UInt8] {
        let body: JSON = .array([
            .string(eventID.uuidString.lowercased()), .string(stream), JSON(version), .string(type),
            JSON(schemaVersion), .string(businessDate.description), payload, metadata,
        ])
        var hasher = SHA256()
        hasher.update(data: previous)
        hasher.update(data: body.canonicalBytes)
        return Array(hasher.finalize())
    }

    public static func hash(of record: EventRecord, previous: [UInt8]) -> [UInt8] {
        hash(
            previous: previous, eventID: record.eventID, stream: record.stream, version: record.version,
            type: record.type, schemaVersion: record.schemaVersion, businessDate: record.businessDate,
            payload: record.payload, metadata: record.metadata)
    }
}
