import Foundation

/// This process's peak resident set (VmHWM), in MB: `projections rebuild` reports it, and
/// the bench holds imports and rebuilds to a memory budget with it. 0 where /proc is absent.
public func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) } ?? 0
        return kb / 1024
    }
    return 0
}
