import ArgumentParser
import EventStore
import Foundation
import JSON
import Projections

/// Prints one object: `--format json` as a bare object (the form a digest file and a period
/// close keep), CSV as a header and a row, a table as one `key  value` line per key.
func printObject(_ object: JSON, columns: [String], format: OutputFormat) {
    switch format {
    case .json:
        var out: [UInt8] = []
        Listing.write(object, columns: columns, into: &out)
        print(String(decoding: out, as: UTF8.self))
    case .csv, .html:
        Listing(columns: columns, rows: [object]).print(format)
    case .table:
        let width = columns.map(\.count).max() ?? 0
        for key in columns {
            let label = key.padding(toLength: width, withPad: " ", startingAt: 0)
            if case .array(let items)? = object[key] {
                if items.isEmpty { print("\(label)  (none)") }
                for (i, item) in items.enumerated() {
                    print("\(i == 0 ? label : String(repeating: " ", count: width))  \(ReportText.plain(item))")
                }
            } else {
                print("\(label)  \(ReportText.plain(object[key]))")
            }
        }
    }
}

struct DigestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "digest", abstract: "Print the log's digest: its size and Merkle root.",
        discussion: """
            The events in log order are the leaves of a Merkle tree (RFC 6962); the digest is \
            how many there are (size), the tree's root, and the position and recorded time of \
            the last one. Keep it outside the database: `ledger verify --digest FILE` later \
            proves the log still holds exactly those events, in that order, as its prefix.
            Works for a read-only login and on a standby (it then writes nothing).
            Examples:
              ledger digest --format json > digest-2026-11-27.json
              ledger verify --digest digest-2026-11-27.json
            """)
    @OptionGroup var global: ReadOptions

    func run() throws {
        let digest = try LogDigest.current(on: try global.connect())
        printObject(digest.json, columns: ["size", "root", "position", "recorded_at"], format: global.format)
    }
}

struct ProveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prove", abstract: "Prove that the event at a position is in the log's current digest.",
        discussion: """
            Prints the event's index in log order, the digest (size, root), the event's hash \
            (leaf) and the audit path: hash SHA-256(0x00 ‖ leaf), then combine with each path \
            hash in turn, nearest the leaf first (SHA-256(0x01 ‖ left ‖ right)); the result is \
            the root. The README shows the check in 20 lines of Python.
            Example:
              ledger prove --position 42 --format json
            """)
    @OptionGroup var global: ReadOptions
    @Option(help: ArgumentHelp("The event's global position.", valueName: "position")) var position: Int64

    func validate() throws {
        if position < 1 { throw ValidationError("--position must be a positive event position") }
    }

    func run() throws {
        guard let proof = try LogDigest.proof(ofPosition: position, on: try global.connect()) else {
            throw CLIError.rejected(
                "no event at position \(position) in the log's settled events — list them with ledger events")
        }
        printObject(proof.json, columns: ["position", "index", "size", "root", "leaf", "path"], format: global.format)
    }
}

/// Reads a digest file (`ledger digest --format json`, or a period close's event) for
/// `verify --digest`.
func readDigest(file: String) throws -> LogDigest {
    let data: Data
    do {
        data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
    } catch {
        throw CLIError.usage("cannot read digest file \(file): \(error.localizedDescription)")
    }
    do {
        return try LogDigest(json: try JSON.parse(String(decoding: data, as: UTF8.self)))
    } catch let error as LogDigest.FormatError {
        throw CLIError.usage("\(file) is not a digest (\(error)) — give the output of ledger digest --format json")
    } catch {
        throw CLIError.usage("\(file) is not JSON (\(error)) — give the output of ledger digest --format json")
    }
}
