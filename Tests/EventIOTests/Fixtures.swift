import Foundation

/// Paths of the committed fixture files (made by Tools/fixtures/make_fixtures.sh).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func reader(_ name: String) -> String { root.appendingPathComponent("readers/\(name)").path }
    static func golden(_ name: String) -> String { root.appendingPathComponent("golden/\(name)").path }

    /// `readers/expected.json`, what a correct reader returns for each valid fixture.
    nonisolated(unsafe) static let expected: [String: Any] = {
        let data = try! Data(contentsOf: root.appendingPathComponent("readers/expected.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()
}
