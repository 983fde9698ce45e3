import ArgumentParser
import Foundation
import JSON
import Ledger
import LedgerApp

/// Reads lines from a file or stdin without loading the whole input.
final class LineReader {
    private let file: UnsafeMutablePointer<FILE>
    private let closes: Bool
    private var buffer: UnsafeMutablePointer<CChar>? = nil
    private var capacity = 0

    init(path: String) throws {
        if path == "-" {
            file = fdopen(0, "r")
            closes = false
        } else {
            guard let f = fopen(path, "r") else {
                throw CLIError.usage("cannot open \(path): \(String(cString: strerror(errno)))")
            }
            file = f
            closes = true
        }
    }

    deinit {
        free(buffer)
        if closes { fclose(file) }
    }

    func next() -> String? {
        let length = getline(&buffer, &capacity, file)
        guard length >= 0, let buffer else { return nil }
        var n = length
        while n > 0, buffer[n - 1] == 0x0A || buffer[n - 1] == 0x0D { n -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: n) {
            String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
        }
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
}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import write commands from JSON Lines (a file, or - for stdin).",
        discussion: """
            One command per line; "command" is "<group>.<subcommand>" and the other fields are \
            the long flag names:
              {"command":"order.place","order":"ntt-001","customer":"NTT","sku":"h100-sxm5-80gb","quantity":64,"unit-price":"4500000","currency":"JPY","date":"2026-05-01"}
            Each line is atomic. A bad line is reported on stderr with its number and the others \
            still go in (unless --stop-on-error). Each line's idempotency key is derived from its \
            content and line number (or given as "idempotency-key"), so importing the same file \
            again appends nothing. Exit status: 0 when every line went in, 64 if a line was \
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

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        let reader = try LineReader(path: file)
        // Two connections: one decides the next batch while the other writes the last.
        let importer = Importer(
            connection: try global.connect(), writerConnection: try global.connect(), actor: global.resolvedActor,
            today: .today)
        importer.batchSize = batchSize
        importer.stopOnError = stopOnError
        let progress = Progress()
        importer.onProgress = { s in
            let rate = Double(s.events) / max(progress.elapsed, 0.001)
            progress.show("importing: \(s.linesRead) lines, \(s.commands) commands, \(s.events) events (\(Int(rate)) events/s), \(s.errors.count) rejected")
        }
        let summary = try importer.run(lines: reader.next)
        progress.finish()
        for error in summary.errors {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
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
        if summary.errors.contains(where: { $0.kind == .malformed }) { throw ExitCode(64) }
        if !summary.errors.isEmpty { throw ExitCode(65) }
    }
}
