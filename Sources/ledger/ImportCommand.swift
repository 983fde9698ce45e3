import ArgumentParser
import Foundation
import JSON
import Ledger
import LedgerApp
import LedgerBench
import Projections

/// Reads lines from a file or stdin without loading the whole input.
///
/// Every way reading can go wrong is an error, never an early end of input: a read error
/// (EIO, ENOMEM…), a directory, or a line longer than `maxLineBytes` (a file that is not
/// JSON Lines, `/dev/zero`) — memory stays bounded by the limit. A UTF-8 byte order mark
/// at the start is skipped; a line that is not valid UTF-8 is handed on as such, for the
/// importer to refuse with its number, rather than decoded with replacement characters.
final class LineReader {
    /// Why the input could not be read to its end.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// The input is not JSON Lines (bad usage, 64) rather than unreadable (1).
        var isMalformed = false
    }

    /// The default limit: a command line is a few hundred bytes; 1 MiB is generous.
    static let defaultMaxLineBytes = 1 << 20

    private let descriptor: Int32
    private let closes: Bool
    private let name: String
    let maxLineBytes: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false
    private(set) var linesRead = 0
    /// Bytes taken so far, line ends included (with `size(of:)`: how far through the file).
    private(set) var bytesRead = 0

    init(path: String, maxLineBytes: Int = LineReader.defaultMaxLineBytes) throws {
        self.maxLineBytes = maxLineBytes
        if path == "-" {
            descriptor = 0
            closes = false
            name = "standard input"
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CLIError.usage("cannot open \(path): \(String(cString: strerror(errno)))")
            }
            var info = stat()
            if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                close(fd)
                throw CLIError.usage("\(path) is a directory, not a JSON Lines file")
            }
            descriptor = fd
            closes = true
            name = path
        }
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        if closes { close(descriptor) }
    }

    /// The next line as text, nil at the end of the input.
    func next() throws -> String? {
        switch try nextLine() {
        case nil: return nil
        case .text(let text)?: return text
        case .invalidUTF8?, .tooLong?: throw Failure(description: "line \(linesRead) of \(name) is not a JSON Lines line")
        }
    }

    /// The next line, nil at the end of the input.
    func nextLine() throws -> Importer.InputLine? {
        while true {
            let found = buffer.withUnsafeBytes { bytes -> Int? in
                guard start < bytes.count, let p = memchr(bytes.baseAddress! + start, 0x0A, bytes.count - start) else {
                    return nil
                }
                return UnsafeRawPointer(p) - bytes.baseAddress!
            }
            if let newline = found {
                let line = take(start..<newline)
                start = newline + 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = take(start..<buffer.count)
                start = buffer.count
                return line
            }
            if buffer.count - start > maxLineBytes {
                throw Failure(
                    description: "line \(linesRead + 1) of \(name) is longer than \(maxLineBytes) bytes (--max-line-bytes) — "
                        + "is it a JSON Lines file? Lines before it were imported", isMalformed: true)
            }
            try fill()
        }
    }

    private func take(_ range: Range<Int>) -> Importer.InputLine {
        linesRead += 1
        bytesRead += range.count + 1
        var lower = range.lowerBound
        var upper = range.upperBound
        if linesRead == 1, upper - lower >= 3, buffer[lower] == 0xEF, buffer[lower + 1] == 0xBB, buffer[lower + 2] == 0xBF {
            lower += 3
        }
        while upper > lower, buffer[upper - 1] == 0x0D { upper -= 1 }
        if upper - lower > maxLineBytes {
            // Checked here too: a long line may have arrived whole in one read.
            return .tooLong(limit: maxLineBytes)
        }
        guard let text = String(validating: buffer[lower..<upper], as: UTF8.self) else { return .invalidUTF8 }
        return .text(text)
    }

    /// Reads more input, keeping the unread part of the buffer.
    private func fill() throws {
        if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let chunk = 1 << 16
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + old, chunk) }
        } while n < 0 && errno == EINTR
        if n < 0 {
            let reason = String(cString: strerror(errno))
            buffer.removeSubrange(old...)
            throw Failure(
                description: "cannot read \(name) after line \(linesRead): \(reason) — lines before it were imported; "
                    + "import it again once it reads (imported lines are skipped)")
        }
        buffer.removeSubrange((old + n)...)
        if n == 0 { atEnd = true }
    }

    /// Size in bytes, when reading a regular file (for progress).
    static func size(of path: String) -> Int? {
        guard path != "-" else { return nil }
        return (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    }
}

/// A one-line progress display on stderr, only when stderr is a terminal.
struct Progress {
    let enabled = isatty(2) == 1
    let started = Date()

    func show(_ text: String) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    var elapsed: Double { Date().timeIntervalSince(started) }

    /// This display, for the bench's imports.
    var line: ProgressLine { ProgressLine(show: show, finish: finish) }
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import write commands from JSON Lines (a file, or - for stdin).",
        discussion: """
            One command per line; "command" is "<group>.<subcommand>" and the other fields are \
            the long flag names, e.g.:
              {"command":"supply.receive","sku":"h100-sxm5-80gb","quantity":64}
              {"command":"order.allocate","order":"ntt-001","quantity":8}

            Each line is atomic. A bad line is reported on stderr with its number and the others \
            still go in (unless --stop-on-error). Each line's idempotency key is derived from the \
            file's name (or --source), its line number and its content (or given as \
            "idempotency-key"), so importing the same file again appends nothing, while another \
            file with the same line at the same number is another delivery and goes in. Exit status: 0 when every line went in, 64 if a line was \
            malformed, 65 if a line was rejected by a business rule.
            Examples:
              ledger import commands.jsonl
              generate-commands | ledger import -
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("JSON Lines file, or - for standard input.", valueName: "file")) var file: String
    @Flag(name: .customLong("stop-on-error"), help: "Stop at the first bad line (earlier lines stay imported).")
    var stopOnError = false
    @Option(name: .customLong("batch-size"), help: "Lines per transaction.") var batchSize = 20_000
    @Option(
        help: ArgumentHelp(
            "Names this delivery for the keys derived from its lines (default: the file's name; - for stdin).",
            valueName: "name"))
    var source: String?
    @Option(name: .customLong("max-line-bytes"), help: "Longest line accepted; a longer one stops the import.")
    var maxLineBytes = LineReader.defaultMaxLineBytes

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be positive") }
        if maxLineBytes < 1 { throw ValidationError("--max-line-bytes must be positive") }
    }

    func run() throws {
        let reader = try LineReader(path: file, maxLineBytes: maxLineBytes)
        // Two connections: one decides the next batch while the other writes the last.
        let importer = Importer(
            connection: try global.connect(), writerConnection: try global.connect(), actor: global.resolvedActor,
            today: .today)
        importer.source = try source.map { try FreeText.parse($0, flag: "source") }
            ?? (file == "-" ? "-" : URL(fileURLWithPath: file).lastPathComponent)
        importer.batchSize = batchSize
        importer.stopOnError = stopOnError
        let progress = Progress()
        // A file's size is known, so its progress has a total: the share of its bytes read.
        let totalBytes = LineReader.size(of: file)
        importer.onProgress = { s in
            let rate = Double(s.events) / max(progress.elapsed, 0.001)
            var share = ""
            if let totalBytes, totalBytes > 0 {
                let done = min(reader.bytesRead, totalBytes)
                let eta = done > 0 ? Int(progress.elapsed * Double(totalBytes - done) / Double(done)) : 0
                share = "\(done * 100 / totalBytes)% of \(totalBytes / 1_000_000 > 0 ? "\(totalBytes / 1_000_000) MB" : "\(totalBytes) bytes"), ETA \(eta)s, "
            }
            progress.show("importing: \(share)\(s.linesRead) lines, \(s.commands) commands, \(s.events) events (\(Int(rate)) events/s), \(s.errors.count) rejected")
        }
        let summary: Importer.Summary
        var readFailure: LineReader.Failure?
        do {
            summary = try importer.run(inputLines: reader.nextLine)
        } catch let failure as Importer.ReadFailure {
            summary = failure.summary
            readFailure = failure.underlying as? LineReader.Failure ?? LineReader.Failure(description: "\(failure.underlying)")
        } catch {
            // Batches are atomic and every line has its key: whatever landed stays, and the
            // same import again skips it.
            let cli = CLIError.from(error)
            guard cli.exitCode == 69 else { throw error }
            throw CLIError.unavailable(
                cli.message + " — the lines imported before stay imported; run the same import again once the "
                    + "server is back: lines already imported are skipped")
        }
        progress.finish()
        for error in summary.errors {
            FileHandle.standardError.write(Data("error: \(ReportText.terminalSafe(error.description))\n".utf8))
        }
        let row: JSON = [
            "imported": JSON(summary.commands), "events": JSON(summary.events), "rejected": JSON(summary.errors.count),
            "already_imported": JSON(summary.alreadyImported),
        ]
        if global.format == .table {
            var line = "imported \(summary.commands) commands, \(summary.events) events, \(summary.errors.count) rejected"
            if summary.alreadyImported > 0 { line += " (\(summary.alreadyImported) already imported)" }
            print(line)
        } else {
            Listing(columns: ["imported", "events", "rejected", "already_imported"], rows: [row]).print(global.format)
        }
        if let readFailure {
            fail(readFailure.isMalformed ? .usage(readFailure.description) : .failed(readFailure.description))
        }
        if summary.errors.contains(where: { $0.kind == .malformed }) { throw ExitCode(64) }
        if !summary.errors.isEmpty { throw ExitCode(65) }
    }
}
