import XCTest
import EventIO
import EventRepresentations
import HDF5

/// Representations against an independent numpy implementation
/// (Tools/fixtures/make_representation_goldens.py → Tests/Fixtures/golden/representations.h5).
final class RepresentationGoldenTests: XCTestCase {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden/representations.h5").path
    static let cases = ["random_small", "random_dup_times", "random_many_bins", "large_sensor",
                        "edge_single_event", "edge_same_time", "edge_empty"]

    struct Case {
        let events: EventPacket
        let height: Int, width: Int, bins: Int
        let tEnd: Int64
        let tau: Double
        let file: HDF5File
        let name: String
        func golden(_ dataset: String) throws -> [Float] { try file.openDataset("/\(name)/\(dataset)").readAll() }
    }

    func load(_ name: String) throws -> Case {
        let file = try HDF5File(path: Self.path)
        let attributes = try file.attributes(of: "/\(name)")
        let events = EventPacket(
            x: try file.openDataset("/\(name)/events/x").readAll(), y: try file.openDataset("/\(name)/events/y").readAll(),
            t: try file.openDataset("/\(name)/events/t").readAll(), p: try file.openDataset("/\(name)/events/p").readAll())
        return Case(events: events, height: attributes.int("height")!, width: attributes.int("width")!,
                    bins: attributes.int("bins")!, tEnd: Int64(attributes.int("t_end")!), tau: attributes.double("tau_us")!,
                    file: file, name: name)
    }

    /// |ours − numpy| ≤ 1e-5·|numpy| + 1e-5: float32 accumulation in another order than numpy's
    /// float64 sums; 1e-5 absolute covers cells holding one tiny weight (README of the goldens).
    func assertClose(_ ours: [Float], _ golden: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(ours.count, golden.count, what, file: file, line: line)
        var worst = 0
        var worstExcess: Float = 0
        for i in ours.indices {
            let excess = abs(ours[i] - golden[i]) - (1e-5 * abs(golden[i]) + 1e-5)
            if excess > worstExcess { worstExcess = excess; worst = i }
        }
        XCTAssertEqual(worstExcess, 0, "\(what): element \(worst) is \(ours[worst]), numpy says \(golden[worst])", file: file, line: line)
    }

    func testVoxelGridMatchesNumpy() throws {
        for name in Self.cases {
            let c = try load(name)
            assertClose(voxelGrid(c.events, bins: c.bins, height: c.height, width: c.width), try c.golden("voxel_grid"), "\(name) voxel_grid")
        }
    }

    func testE2VIDNormalisedVoxelGridMatchesNumpy() throws {
        for name in Self.cases {
            let c = try load(name)
            var grid = voxelGrid(c.events, bins: c.bins, height: c.height, width: c.width)
            normalizeE2VID(&grid)
            assertClose(grid, try c.golden("voxel_grid_e2vid"), "\(name) voxel_grid_e2vid")
        }
    }

    func testHistogramEventFrameAndTimeSurfaceMatchNumpy() throws {
        for name in Self.cases {
            let c = try load(name)
            assertClose(histogram(c.events, height: c.height, width: c.width), try c.golden("histogram"), "\(name) histogram")
            assertClose(eventFrame(c.events, height: c.height, width: c.width), try c.golden("event_frame"), "\(name) event_frame")
            assertClose(timeSurface(c.events, height: c.height, width: c.width, windowEnd: c.tEnd, tauMicroseconds: c.tau),
                        try c.golden("time_surface"), "\(name) time_surface")
        }
    }

    /// Streaming a window in uneven blocks (as `convert` does) gives the one-shot grid.
    func testStreamedBuilderEqualsOneShot() throws {
        let c = try load("random_small")
        for kind in Representation.allCases {
            let spec = RepresentationSpec(kind: kind, bins: c.bins, height: c.height, width: c.width,
                                          normalization: kind == .voxelGrid ? .e2vid : .none, tauMicroseconds: c.tau)
            let builder = RepresentationBuilder(spec: spec)
            let window = EventWindow(index: 0, tStart: c.events.t[0], tEnd: c.tEnd, events: 0..<c.events.count,
                                     tFirst: c.events.t.first, tLast: c.events.t.last)
            builder.begin(window)
            var start = 0
            for size in [1, 7, 300, 1_000, 10_000] where start < c.events.count {
                let end = min(start + size, c.events.count)
                builder.add(EventSlice(packet: c.events, range: start..<end))
                start = end
            }
            let golden = try c.golden(kind == .voxelGrid ? "voxel_grid_e2vid" : kind.rawValue)
            assertClose(builder.finish(), golden, "streamed \(kind)")
        }
    }
}
