// swift-tools-version:6.0
import PackageDescription

/// One module per job, dependencies pointing inward:
/// `Ledger` (domain, pure) ← `LedgerApp` (command handling) ← `ledger` (CLI);
/// `Postgres` (libpq client) ← `EventStore` (events as bytes and versions) ← `EventCodec`
/// (records as domain events) ← `Projections` and `LedgerApp`, neither importing the other.
/// `LedgerBench` (synthetic ledgers, workloads, measurements) is linked by the CLI for its
/// `bench` command only, so no production module carries bench code.
let package = Package(
    name: "ledger",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ledger", targets: ["ledger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        // Logs of the long-running `projections run --follow` (timestamp, level, message).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(name: "JSON"),
        .target(name: "Postgres", dependencies: ["CLibPQ", "JSON"]),
        .target(name: "EventStore", dependencies: [
            "Postgres", "JSON", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Ledger", dependencies: ["JSON"]),
        // The event codec: stored records read back as the domain's events. Both sides use
        // it — the write side (LedgerApp) folds streams with it, the read side projects —
        // so neither has to import the other.
        .target(name: "EventCodec", dependencies: ["Ledger", "EventStore", "Postgres"]),
        .target(name: "Projections", dependencies: ["Ledger", "EventCodec", "EventStore", "Postgres", "JSON"]),
        .target(name: "LedgerApp", dependencies: ["Ledger", "EventCodec", "EventStore", "Postgres", "JSON"]),
        .target(name: "LedgerBench", dependencies: ["Ledger", "LedgerApp", "EventCodec", "EventStore", "Projections", "Postgres", "JSON"]),
        .executableTarget(name: "ledger", dependencies: [
            "LedgerApp", "LedgerBench", "Ledger", "EventStore", "Projections", "Postgres", "JSON",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "TestSupport", dependencies: ["Postgres", "EventStore", "LedgerApp"], path: "Tests/TestSupport"),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "EventStoreTests", dependencies: ["EventStore", "Postgres", "JSON", "TestSupport"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "JSON"]),
        .testTarget(name: "ProjectionsTests", dependencies: ["Projections", "EventCodec", "LedgerApp", "LedgerBench", "Ledger", "EventStore", "Postgres", "TestSupport"]),
        .testTarget(name: "LedgerAppTests", dependencies: ["LedgerApp", "Ledger", "EventStore", "Projections", "Postgres", "TestSupport"]),
        .testTarget(name: "LedgerBenchTests", dependencies: ["LedgerBench", "Postgres", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Postgres", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
