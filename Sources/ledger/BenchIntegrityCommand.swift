import ArgumentParser
import LedgerBench

/// `ledger bench verify`: loads a realistic ledger, catches the projections up, then times
/// `verify` (hash chains, every rule, every projection) and the digest: its first
/// computation (storing the tree), a later one, a proof, and a digest by a reader that may
/// not write (stored tree plus the events after it).
struct BenchVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Load events, then time verify, digest and prove.",
        discussion: """
            Default: 200,000 events. Reports verify's events per second and the digest's \
            times; 100 more events are appended before the last digest, so it extends the tree.
            Example:
              ledger bench verify --events 1000000 --format json
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var bench: BenchOptions

    func run() throws {
        try bench.requireOneClient()
        try BenchDatabase.with(global: global, keep: bench.keep) { scratch in
            let report = try Bench.verifying(in: scratch, events: bench.events ?? 200_000, progress: Progress().line)
            report.print(global.format)
        }
    }
}
