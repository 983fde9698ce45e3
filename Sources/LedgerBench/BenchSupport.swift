import Foundation
import JSON

/// Why a bench could not run or measure: the CLI maps `.unavailable` to 69 and `.failed`
/// to 1, like its own errors.
public enum BenchError: Error, CustomStringConvertible {
    case unavailable(String)
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let m), .failed(let m): m
        }
    }
}

/// One bench's figures as ordered (key, value) pairs: the JSON keys scripts/bench reads, in
/// the order people read them. How they are printed is the CLI's business.
public struct BenchReport {
    public var title: String
    public var fields: [(String, JSON)]

    public init(title: String, fields: [(String, JSON)]) {
        self.title = title
        self.fields = fields
    }

    /// The value of `key`, if the bench measured it.
    public subscript(key: String) -> JSON? { fields.first { $0.0 == key }?.1 }
}

/// A note for the person running the bench, on stderr (stdout carries the figures).
public func benchSay(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// The value at fraction `p` (0…1) of an ascending array; 0 when empty.
public func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let index = Int((Double(sorted.count - 1) * p).rounded())
    return sorted[min(max(index, 0), sorted.count - 1)]
}

/// A measure as a JSON number with a fixed number of decimals.
public func number(_ measure: Double, _ decimals: Int) -> JSON {
    decimals == 0 ? .number(String(Int(measure.rounded()))) : .number(String(format: "%.\(decimals)f", measure))
}

extension Duration {
    public var asSeconds: Double { milliseconds / 1_000 }
    public var milliseconds: Double {
        let (s, atto) = components
        return Double(s) * 1_000 + Double(atto) / 1e15
    }
}

/// Times `body` (seconds).
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try body()
    return (value, (ContinuousClock.now - start).asSeconds)
}

/// What a child process of this binary did.
public struct ChildResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var seconds: Double
    public var maxRSSMegabytes: Double
    /// The child's own CPU time (user + system): what it cost the client, whatever the load.
    public var cpuSeconds: Double = 0
}

/// Runs this binary with `arguments`, waits with wait4 and returns its output and peak RSS.
/// The database URL goes to the child in its environment (`DATABASE_URL`), never in its
/// arguments: any user on the machine can read another process's arguments (`ps`), and a
/// URL may carry a password.
public func runChild(_ arguments: [String], databaseURL: String, discardOutput: Bool = false) throws -> ChildResult {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let base = NSTemporaryDirectory() + "/ledger-bench-child-\(getpid())"
    let outPath = base + ".out", errPath = base + ".err"
    defer {
        unlink(outPath)
        unlink(errPath)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, discardOutput ? "/dev/null" : outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv: [UnsafeMutablePointer<CChar>?] = ([exe] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let t0 = ContinuousClock.now
    var environment = ProcessInfo.processInfo.environment
    environment["DATABASE_URL"] = databaseURL
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in envp { free(p) } }
    let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
    guard rc == 0 else { throw BenchError.failed("cannot start \(exe): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw BenchError.failed("wait4: \(String(cString: strerror(errno)))") }
    }
    let seconds = (ContinuousClock.now - t0).asSeconds
    let exited = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return ChildResult(
        status: exited,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
        seconds: seconds, maxRSSMegabytes: Double(usage.ru_maxrss) / 1024,
        cpuSeconds: Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000)
}
