import Crypto
import EventStore
import Foundation
import JSON
import Ledger
import Postgres
import Projections

/// `ledger import`: JSON Lines, one write command per line, fast.
///
/// Lines are taken in batches. For a batch: parse every line, drop those whose
/// idempotency key was used before (a re-run appends nothing), load every stream the batch
/// needs in one query, decide the lines in order against the folded state, then append the
/// whole batch in one transaction with COPY. Each line is atomic: a rejected line
/// contributes no event and later lines are decided without it. Should another writer touch
/// the same streams meanwhile, the batch conflicts, is rolled back whole and decided again.
public final class Importer {
    /// A line that was not imported.
    public struct LineError: Sendable, CustomStringConvertible {
        public enum Kind: Sendable { case malformed, rejected }
        public var line: Int
        public var kind: Kind
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public struct Summary: Sendable {
        public var commands = 0
        public var events = 0
        public var alreadyImported = 0
        public var errors: [LineError] = []
        public var linesRead = 0
    }

    public let store: EventStore
    public let actor: String
    public let today: Day
    public var batchSize = 5_000
    public var stopOnError = false
    /// Called after each batch with the summary so far (for a progress bar).
    public var onProgress: ((Summary) -> Void)?

    /// The state of every stream seen so far: streams are loaded once per import.
    private var loaded = LoadedStreams()

    public init(connection: PostgresConnection, actor: String, today: Day) {
        self.store = EventStore(connection: connection)
        self.actor = actor
        self.today = today
    }

    struct ParsedLine {
        var number: Int
        var command: LedgerCommand
        var key: String
        var fingerprint: String
    }

    /// Imports every line `nextLine` yields (nil at the end).
    public func run(lines nextLine: () throws -> String?) throws -> Summary {
        var summary = Summary()
        var batch: [ParsedLine] = []
        var stopped = false
        while !stopped {
            let text = try nextLine()
            if let text {
                summary.linesRead += 1
                let number = summary.linesRead
                // Blank lines and `#` comments are skipped; the JSON parser allows the rest's spaces.
                let first = text.utf8.first { $0 != UInt8(ascii: " ") && $0 != 0x09 }
                if let first, first != UInt8(ascii: "#") {
                    do {
                        batch.append(try parse(text, number: number))
                    } catch {
                        summary.errors.append(LineError(line: number, kind: .malformed, message: "\(error)"))
                        if stopOnError { stopped = true }
                    }
                }
            }
            if text == nil || stopped || batch.count >= batchSize {
                if !batch.isEmpty { stopped = try importBatch(batch, into: &summary) || stopped }
                batch.removeAll(keepingCapacity: true)
                onProgress?(summary)
                if text == nil { break }
            }
        }
        summary.errors.sort { $0.line < $1.line }
        return summary
    }

    /// Reads one line: a JSON object with `"command"` and the long flag names.
    func parse(_ text: String, number: Int) throws -> ParsedLine {
        let json: JSON
        do { json = try JSON.parse(text) } catch { throw ValueError("not JSON: \(error)") }
        guard case .object(var members) = json else { throw ValueError("expected a JSON object") }
        guard let name = members.removeValue(forKey: "command")?.stringValue else {
            throw ValueError("missing \"command\" (e.g. \"order.place\")")
        }
        let explicitKey = members.removeValue(forKey: "idempotency-key")?.stringValue
        var fields: [String: String] = [:]
        for (key, value) in members {
            switch value {
            case .string(let s): fields[key] = s
            case .number(let n): fields[key] = n
            case .null: continue
            default: throw ValueError("--\(key): expected a string or a number")
            }
        }
        let command = try LedgerCommand.parse(name: name, fields: fields, today: today)
        // Same content on the same line: same key, so a re-run appends nothing.
        if let explicitKey {
            return ParsedLine(
                number: number, command: command, key: explicitKey, fingerprint: CommandHandler.fingerprint(of: command))
        }
        // Same content on the same line: same key, so a re-run appends nothing. The key
        // stands for the line's text, which is also the command's fingerprint (a line
        // without --date is the same line on another day, not another command).
        let digest = hexString(SHA256.hash(data: Data("\(number):\(text)".utf8)).prefix(16))
        return ParsedLine(number: number, command: command, key: "import:" + digest, fingerprint: digest)
    }

    /// Imports one batch; returns true when `stopOnError` says to stop.
    private func importBatch(_ lines: [ParsedLine], into summary: inout Summary) throws -> Bool {
        let used = try store.usedIdempotencyKeys(lines.map(\.key))
        var pending: [ParsedLine] = []
        for line in lines {
            if let hash = used[line.key] {
                if hash == line.fingerprint {
                    summary.alreadyImported += 1
                } else {
                    summary.errors.append(
                        LineError(line: line.number, kind: .rejected, message: "idempotency key \(line.key) was used for a different command"))
                }
            } else {
                pending.append(line)
            }
        }
        var attempt = 0
        while true {
            attempt += 1
            var decided: [BulkCommand] = []
            var errors: [LineError] = []
            var stop = false
            try loaded.load(for: pending.map(\.command), from: store)
            for line in pending {
                try loaded.load(for: line.command, from: store)
                do {
                    let decisions = try line.command.decide(in: loaded.world)
                    for d in decisions { loaded.world.apply(d.event, in: d.stream) }
                    let metadata: JSON = [
                        "actor": .string(actor), "command": .string(line.command.name),
                        "idempotency_key": .string(line.key), "import_line": JSON(line.number),
                    ]
                    decided.append(
                        BulkCommand(
                            events: decisions.map {
                                NewEvent(
                                    stream: $0.stream.rawValue, type: $0.event.type,
                                    schemaVersion: $0.event.schemaVersion, payload: $0.event.payload,
                                    metadata: metadata, businessDate: $0.event.date.sqlDate)
                            }, idempotencyKey: line.key, commandHash: line.fingerprint))
                } catch {
                    errors.append(LineError(line: line.number, kind: .rejected, message: error.message))
                    if stopOnError { stop = true; break }
                }
            }
            // `heads` still hold the stored heads: decisions only changed `world` so far.
            var startHeads: [String: StreamHead] = [:]
            for command in decided {
                for event in command.events where startHeads[event.stream] == nil {
                    startHeads[event.stream] = loaded.heads[StreamName(rawValue: event.stream)] ?? .empty
                }
            }
            let outcome: Result<[String: StreamHead], EventStoreError>
            do { outcome = .success(try store.appendInBulk(decided, heads: startHeads)) } catch { outcome = .failure(error) }
            switch outcome {
            case .success(let newHeads):
                for (stream, head) in newHeads { loaded.heads[StreamName(rawValue: stream)] = head }
                summary.commands += decided.count
                summary.events += decided.reduce(0) { $0 + $1.events.count }
                summary.errors += errors
                return stop
            case .failure(.conflict) where attempt < 5:
                // Someone else wrote to these streams: forget what we knew and decide again.
                loaded.forget()
            case .failure(let error):
                loaded.forget()
                throw error
            }
        }
    }
}
