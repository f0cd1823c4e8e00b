import XCTest
import EventIO
import EventRepresentations
import HDF5

/// convert → read back: every window of the written file equals the representation computed
/// directly from that window's events (read independently of the streaming reader).
final class ConversionRoundTripTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/readers")

    func testEveryRepresentationRoundTrips() throws {
        let input = Self.fixtures.appendingPathComponent("dsec_blosc_lz4.h5").path
        let events = try EventFile(path: input).read(0..<20_000)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evd-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        for (representation, window) in [(Representation.voxelGrid, WindowSpec.duration(microseconds: 20_000)),
                                          (.histogram, .eventCount(3_000)), (.timeSurface, .duration(microseconds: 50_000)),
                                          (.eventFrame, .eventCount(7_777))] {
            let output = folder.appendingPathComponent("\(representation.rawValue).h5").path
            // Small blocks make windows span several reads.
            let request = ConversionRequest(input: input, output: output, representation: representation, bins: 4,
                                            normalization: representation == .voxelGrid ? .e2vid : .none,
                                            tauMicroseconds: 5_000, window: window, compression: .gzip, blockSize: 1_500)
            let report = try RecordingConverter(request).run()
            let file = try HDF5File(path: output)
            let grids = try file.openDataset("/" + representation.rawValue)
            let windowT: [Int64] = try file.openDataset("/window_t").readAll()
            let counts: [Int64] = try file.openDataset("/window_events").readAll()
            XCTAssertEqual(grids.rowCount, report.windows)
            XCTAssertEqual(counts.reduce(0, +), 20_000)
            var first = 0
            for k in 0..<report.windows {
                let range = first..<(first + Int(counts[k]))
                first = range.upperBound
                let packet = events[range]
                XCTAssertTrue(packet.t.allSatisfy { $0 >= windowT[2 * k] && $0 < windowT[2 * k + 1] }, "\(representation) window \(k)")
                var expected: [Float]
                switch representation {
                case .voxelGrid:
                    expected = voxelGrid(packet, bins: 4, height: 480, width: 640)
                    normalizeE2VID(&expected)
                case .histogram: expected = histogram(packet, height: 480, width: 640)
                case .eventFrame: expected = eventFrame(packet, height: 480, width: 640)
                case .timeSurface:
                    expected = timeSurface(packet, height: 480, width: 640, windowEnd: windowT[2 * k + 1], tauMicroseconds: 5_000)
                }
                let written: [Float] = try grids.readRows(k..<(k + 1))
                // Streaming in blocks only changes float32 summation order.
                let worst = zip(written, expected).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-5, "\(representation) window \(k)")
            }
        }
    }
}
