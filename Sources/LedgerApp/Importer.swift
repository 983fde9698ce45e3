import Crypto
import EventCodec
import EventStore
import Foundation
import JSON
import Ledger
import Postgres
import Synchronization

/// `ledger import`: JSON Lines, one write command per line, fast.
///
/// Lines are taken in batches. For a batch: parse every line, drop those whose
/// idempotency key was used before (a re-run appends nothing), load every stream the batch
/// needs in one query, decide the lines in order against the folded state, then append the
/// whole batch in one transaction with COPY. Each line is atomic: a rejected line
/// contributes no event and later lines are decided without it. Should another writer touch
/// the same streams meanwhile, the batch conflicts, is rolled back whole and decided again.
///
/// Given a second connection, batches are written on a thread of their own: the next batch
/// is parsed and decided while the previous one is hashed, copied and committed.
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
    public var batchSize = 20_000
    public var stopOnError = false
    /// Called after each batch with the summary so far (for a progress bar).
    public var onProgress: ((Summary) -> Void)?

    /// The state of the streams recent lines touched: a stream is loaded once and kept
    /// while lines keep touching it (see `keptStreams`).
    private var loaded: LoadedStreams
    /// How many loaded streams an import keeps before it forgets those the last two batches
    /// did not touch: memory stays bounded by what lines touch at a time, not by the
    /// streams in the file (an order's stream is done with once it is paid). A forgotten
    /// stream is loaded again if a later line needs it.
    public var keptStreams = 20_000
    /// The streams the previous batch read or wrote: kept when forgetting, since that
    /// batch may still be being written (one batch in flight), and a stream loaded again
    /// before it lands would miss its events.
    private var touchedBefore: Set<StreamName> = []
    /// How many streams are loaded now (tests of the memory bound).
    var loadedStreamCount: Int { loaded.heads.count }
    private let writer: BatchWriter
    /// Explicit idempotency keys met in this run: a repeat within one file is caught here.
    private var explicitKeys: [String: (line: Int, fingerprint: String)] = [:]

    /// `writerConnection`, when given, writes batches in the background (see above).
    public init(connection: PostgresConnection, writerConnection: PostgresConnection? = nil, actor: String, today: Day) {
        self.store = EventStore(connection: connection)
        self.writer = BatchWriter(store: writerConnection.map(EventStore.init) ?? store, background: writerConnection != nil)
        self.actor = actor
        self.today = today
        self.loaded = LoadedStreams(today: today)
    }

    struct ParsedLine: Sendable {
        var number: Int
        var command: LedgerCommand
        var key: String
        var fingerprint: String
        /// The key this line had before keys were scoped by source (see `parse`).
        var legacyKey: String? = nil
    }

    /// What tells this delivery of lines from another, for the keys derived from lines: the
    /// file's name (`ledger import` passes the name without its directory), or `--source`.
    /// Nil keys lines by number and text only.
    public var source: String?

    /// One line of input as read: text, or what made it unreadable as text.
    public enum InputLine: Sendable {
        case text(String)
        /// Not valid UTF-8: refused with its number, never decoded with replacement characters.
        case invalidUTF8
        /// Longer than the reader's limit (bytes).
        case tooLong(limit: Int)
    }

    /// Imports every line `nextLine` yields (nil at the end).
    public func run(lines nextLine: () throws -> String?) throws -> Summary {
        try run(inputLines: { try nextLine().map(InputLine.text) })
    }

    /// Imports every line `nextLine` yields (nil at the end). When reading fails, the lines
    /// read before are imported (their batch is finished) and the failure is then rethrown.
    public func run(inputLines nextLine: () throws -> InputLine?) throws -> Summary {
        var summary = Summary()
        var batch: [ParsedLine] = []
        var stopped = false
        var readFailure: (any Error)?
        while !stopped {
            var input: InputLine?
            do { input = try nextLine() } catch { readFailure = error }
            var text: String?
            if let input {
                summary.linesRead += 1
                switch input {
                case .text(let t): text = t
                case .invalidUTF8:
                    text = ""
                    summary.errors.append(LineError(line: summary.linesRead, kind: .malformed, message: "not valid UTF-8"))
                    if stopOnError { stopped = true }
                case .tooLong(let limit):
                    text = ""
                    summary.errors.append(
                        LineError(line: summary.linesRead, kind: .malformed, message: "longer than \(limit) bytes"))
                    if stopOnError { stopped = true }
                }
            }
            if let text, !text.isEmpty {
                let number = summary.linesRead
                // Blank lines and `#` comments are skipped; the JSON parser allows the rest's spaces.
                let first = text.utf8.first { $0 != UInt8(ascii: " ") && $0 != 0x09 }
                if let first, first != UInt8(ascii: "#") {
                    do {
                        let line = try parse(text, number: number)
                        if line.command.goesAlone {
                            // A reversal or a period command changes what the lines after it
                            // are decided against in ways a batch's running fold does not
                            // follow: land what came before, run it on its own, reload.
                            if !batch.isEmpty {
                                let decided = try decide(batch)
                                stopped = stopped || decided.stop
                                writer.submit(decided)
                                batch.removeAll(keepingCapacity: true)
                            }
                            writer.finish()
                            if try settle(into: &summary) { stopped = true }
                            if !stopped, try importOneByOne([line], into: &summary) { stopped = true }
                            loaded.forget()
                        } else {
                            batch.append(line)
                        }
                    } catch let error as ValueError {
                        summary.errors.append(LineError(line: number, kind: .malformed, message: "\(error)"))
                        if stopOnError { stopped = true }
                    }
                }
            }
            if text == nil || stopped || batch.count >= batchSize {
                if !batch.isEmpty {
                    let decided = try decide(batch)
                    stopped = stopped || decided.stop
                    writer.submit(decided)
                    if try settle(into: &summary) { stopped = true }
                }
                batch.removeAll(keepingCapacity: true)
                onProgress?(summary)
                if text == nil { break }
            }
        }
        writer.finish()
        _ = try settle(into: &summary)
        summary.errors.sort { $0.line < $1.line }
        if let readFailure { throw ReadFailure(summary: summary, underlying: readFailure) }
        return summary
    }

    /// The input could not be read to its end: what was imported before, and why.
    public struct ReadFailure: Error, CustomStringConvertible {
        public var summary: Summary
        public var underlying: any Error
        public var description: String { "\(underlying)" }
    }

    /// Counts the batches that landed; after a failure, redoes in order and in the
    /// foreground those that did not (a conflict with another writer: reload the streams
    /// and decide again, a bounded number of times). True when --stop-on-error says stop.
    private func settle(into summary: inout Summary) throws -> Bool {
        for batch in writer.takeLanded() { batch.count(into: &summary) }
        guard writer.hasFailed else { return false }
        writer.finish()
        var (redo, failure) = writer.takeFailure()
        var attempts = 0
        while let error = failure {
            // Every attempt that fails without progress counts; back off more each time so a
            // busy writer on the same streams can finish.
            guard case .conflict = error as? EventStoreError, attempts < 12 else { throw error }
            attempts += 1
            usleep(UInt32.random(in: 1_000...5_000) * UInt32(attempts))
            loaded.forget()
            failure = nil
            let remaining = redo
            redo = []
            if attempts >= 3 {
                // A busy writer on the same streams keeps winning the race for a whole
                // batch: go line by line, each appended on its own with the command
                // handler's short retries, then carry on in batches.
                loaded.forget()
                for batch in remaining where try importOneByOne(batch.lines, into: &summary) { return true }
                return false
            }
            for (i, batch) in remaining.enumerated() {
                let decided = try decide(batch.lines)
                writer.submit(decided)
                writer.finish()
                for landed in writer.takeLanded() {
                    landed.count(into: &summary)
                    attempts = 0
                }
                if writer.hasFailed {
                    let (unlanded, error) = writer.takeFailure()
                    (redo, failure) = (unlanded + remaining[(i + 1)...], error)
                    break
                }
                if decided.stop { return true }
            }
        }
        return false
    }

    /// The slow, sure way for lines whose batch kept conflicting. True when --stop-on-error
    /// says stop.
    private func importOneByOne(_ lines: [ParsedLine], into summary: inout Summary) throws -> Bool {
        let handler = CommandHandler(
            connection: store.connection, actor: actor, maxAttempts: 50, remembersStreams: true, today: today)
        for line in lines {
            do {
                let result = try handler.handle(
                    line.command, idempotencyKey: line.key, fingerprint: line.fingerprint,
                    metadata: ["import_line": JSON(line.number)])
                if result.replayed {
                    summary.alreadyImported += 1
                } else {
                    summary.commands += 1
                    summary.events += result.events.count
                }
            } catch let rejection as Rejection {
                summary.errors.append(LineError(line: line.number, kind: .rejected, message: rejection.message))
                if stopOnError { return true }
            } catch EventStoreError.idempotencyKeyReused(let key) {
                summary.errors.append(
                    LineError(line: line.number, kind: .rejected, message: "idempotency key \(key) was used for a different command"))
            }
        }
        return false
    }

    /// Reads one line: a JSON object with `"command"` and the long flag names.
    func parse(_ text: String, number: Int) throws -> ParsedLine {
        let json: JSON
        do { json = try JSON.parse(text) } catch { throw ValueError("not JSON: \(error)") }
        guard case .object(var members) = json else { throw ValueError("expected a JSON object") }
        guard let name = members.removeValue(forKey: "command")?.stringValue else {
            throw ValueError("missing \"command\" (e.g. \"order.place\")")
        }
        let explicitKey = try members.removeValue(forKey: "idempotency-key").map { value throws(ValueError) in
            guard let key = value.stringValue else { throw ValueError("--idempotency-key: expected a string") }
            return try FreeText.parse(key, flag: "idempotency-key", maxLength: FreeText.maxLabelLength)
        }
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
        //
        // The key's scope is the delivery: `source` (the file's name, or --source) with the
        // line number and text. Two files with the same line at the same number are two
        // deliveries and both go in; the same file imported again — or corrected and
        // imported again — finds its lines' keys and appends them once.
        let digest = Self.lineDigest(source: source, number: number, text: text)
        var line = ParsedLine(number: number, command: command, key: "import:" + digest, fingerprint: digest)
        if source != nil {
            // A file imported before keys had a scope was keyed by line number and text only.
            line.legacyKey = "import:" + Self.lineDigest(source: nil, number: number, text: text)
        }
        return line
    }

    static func lineDigest(source: String?, number: Int, text: String) -> String {
        var hasher = SHA256()
        if let source {
            // Length-prefixed, so that no source and line can pass for another.
            withUnsafeBytes(of: Int64(source.utf8.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Data(source.utf8))
        }
        withUnsafeBytes(of: Int64(number).littleEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(data: Data(text.utf8))
        return hasher.finalize().withUnsafeBytes { hexString(UnsafeRawBufferPointer(rebasing: $0.prefix(16))) }
    }

    /// Decides one batch against the streams as loaded: the events to write, and the lines
    /// that were refused or had been imported before.
    private func decide(_ lines: [ParsedLine]) throws -> DecidedBatch {
        var batch = DecidedBatch(lines: lines)
        let used = try store.usedIdempotencyKeys(lines.map(\.key) + lines.compactMap(\.legacyKey))
        var pending: [ParsedLine] = []
        for var line in lines {
            var earlier = used[line.key]
            if earlier == nil, let legacy = line.legacyKey, let stored = used[legacy] {
                // Imported under its old key: the same line then, if its fingerprint agrees.
                earlier = stored
                line.fingerprint = legacy.dropFirst("import:".count).description
            }
            if earlier == nil, !line.key.hasPrefix("import:") {
                // An explicit key on two lines of one file: the second is a repeat.
                if let first = explicitKeys[line.key], first.line != line.number { earlier = first.fingerprint }
                explicitKeys[line.key] = explicitKeys[line.key] ?? (line.number, line.fingerprint)
            }
            if let earlier {
                if earlier == line.fingerprint {
                    batch.alreadyImported += 1
                } else {
                    batch.errors.append(
                        LineError(line: line.number, kind: .rejected, message: "idempotency key \(line.key) was used for a different command"))
                }
            } else {
                pending.append(line)
            }
        }
        try loaded.load(for: pending.map(\.command), from: store)
        for line in pending {
            try loaded.load(for: line.command, from: store)
            do {
                let decisions = try line.command.decide(in: loaded.world)
                for d in decisions { loaded.world.apply(d.event, in: d.stream) }
                let envelope = AppendEnvelope(
                    actor: actor, command: line.command, idempotencyKey: line.key,
                    extra: ["import_line": JSON(line.number)])
                batch.commands.append(
                    BulkCommand(
                        events: envelope.events(for: decisions), idempotencyKey: line.key, commandHash: line.fingerprint))
            } catch {
                batch.errors.append(LineError(line: line.number, kind: .rejected, message: error.message))
                if stopOnError { batch.stop = true; break }
            }
        }
        // The period lock: the batch was decided against this `periods` head.
        if !batch.commands.isEmpty { batch.storedHeads[StreamName.periods.rawValue] = loaded.heads[.periods] ?? .empty }
        // The heads as stored, for streams this import has not written yet (the writer
        // knows the later heads of those it has).
        for command in batch.commands {
            for event in command.events where batch.storedHeads[event.stream] == nil {
                batch.storedHeads[event.stream] = loaded.heads[StreamName(rawValue: event.stream)] ?? .empty
            }
        }
        // Bounded memory: forget the streams neither this batch nor the one before touched.
        // Their last events were written by a batch that has landed (one batch in flight at
        // most), so loading them again reads them whole.
        var touched = Set(LedgerCommand.guardedStreams)
        for line in pending { touched.formUnion(line.command.streams(in: loaded.world)) }
        for command in batch.commands { for event in command.events { touched.insert(StreamName(rawValue: event.stream)) } }
        if loaded.heads.count > keptStreams { loaded.forget(allBut: touched.union(touchedBefore)) }
        touchedBefore = touched
        return batch
    }
}

/// A batch decided and ready to write, with what it will count for once it lands.
struct DecidedBatch: Sendable {
    var lines: [Importer.ParsedLine]
    var commands: [BulkCommand] = []
    /// Stored heads of the streams the batch writes, as loaded before deciding.
    var storedHeads: [String: StreamHead] = [:]
    var errors: [Importer.LineError] = []
    var alreadyImported = 0
    var stop = false

    func count(into summary: inout Importer.Summary) {
        summary.commands += commands.count
        summary.events += commands.reduce(0) { $0 + $1.events.count }
        summary.errors += errors
        summary.alreadyImported += alreadyImported
    }
}

/// Writes decided batches in order: on a queue of its own when it has its own connection,
/// so the importer decides the next batch meanwhile (one batch in flight at most), else on
/// the caller's thread. After a failure it writes nothing more until the failure is taken.
///
/// `@unchecked Sendable`: `store` (with its connection) and `chain` are only touched by
/// `write`, which runs on `queue` one batch at a time (or on the caller's thread when not in
/// the background, where nothing else runs); what the caller reads is behind `state`.
final class BatchWriter: @unchecked Sendable {
    private let store: EventStore
    private let background: Bool
    private let queue = DispatchQueue(label: "ledger.import.writer")
    private let slot = DispatchSemaphore(value: 1)
    /// The heads this import has written, newer than any loaded before.
    private var chain: [String: StreamHead] = [:]
    private let state = Mutex<(landed: [DecidedBatch], unlanded: [DecidedBatch], failure: (any Error)?)>(([], [], nil))

    init(store: EventStore, background: Bool) {
        self.store = store
        self.background = background
    }

    func submit(_ batch: DecidedBatch) {
        guard background else { return write(batch) }
        slot.wait()
        queue.async {
            self.write(batch)
            self.slot.signal()
        }
    }

    private func write(_ batch: DecidedBatch) {
        if state.withLock({ $0.failure != nil }) {
            state.withLock { $0.unlanded.append(batch) }
            return
        }
        var heads: [String: StreamHead] = [:]
        for (stream, stored) in batch.storedHeads { heads[stream] = chain[stream] ?? stored }
        do {
            let written = try store.appendInBulk(batch.commands, heads: heads)
            chain.merge(written) { _, new in new }
            state.withLock { $0.landed.append(batch) }
        } catch {
            state.withLock {
                $0.failure = error
                $0.unlanded.append(batch)
            }
        }
    }

    /// Waits until every submitted batch is written or set aside.
    func finish() {
        if background { queue.sync {} }
    }

    var hasFailed: Bool { state.withLock { $0.failure != nil } }

    func takeLanded() -> [DecidedBatch] {
        state.withLock { s in
            defer { s.landed = [] }
            return s.landed
        }
    }

    /// The batches that did not land, in order, and why; forgets the heads written so far,
    /// since the batches are about to be decided again from what is stored.
    func takeFailure() -> ([DecidedBatch], (any Error)?) {
        finish()
        chain = [:]
        return state.withLock { s in
            defer { (s.unlanded, s.failure) = ([], nil) }
            return (s.unlanded, s.failure)
        }
    }
}

extension LedgerCommand {
    /// Whether an import runs this command on its own rather than in a batch.
    var goesAlone: Bool {
        switch action {
        case .reverse, .period: true
        default: false
        }
    }
}
