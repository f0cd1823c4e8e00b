import XCTest
@testable import HDF5

final class HDF5RoundTripTests: XCTestCase {
    func testDatasetsAttributesAndRowsRoundTrip() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("evd-\(UUID().uuidString).h5").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let file = try HDF5File(creating: path)
            let values = (0..<24).map { Float($0) * 0.5 }
            try file.write(values, to: "/group/grid", shape: [2, 3, 4], chunk: [1, 3, 4], gzipLevel: 1)
            try file.writeScalar(Int64(-7), to: "/offset")
            let root = try file.attributes()
            try root.set("name", "événement")
            try root.set("classes", strings: ["flat", "vehicle"])
            try root.set("count", 42)
            try root.set("ratio", 0.25)
            try root.set("paired", true)
        }
        let file = try HDF5File(path: path)
        let grid = try file.openDataset("/group/grid")
        XCTAssertEqual(grid.shape, [2, 3, 4])
        XCTAssertEqual(grid.chunkShape, [1, 3, 4])
        XCTAssertEqual(grid.elementType.description, "<f4")
        XCTAssertEqual(try grid.readRows(1..<2, as: Float.self), (12..<24).map { Float($0) * 0.5 })
        // libhdf5 converts on read: float32 → float64.
        XCTAssertEqual(try grid.readRows(0..<1, as: Double.self).last, 5.5)
        XCTAssertEqual(try file.openDataset("/offset").readAll(as: Int64.self), [-7])
        let root = try file.attributes()
        XCTAssertEqual(root.string("name"), "événement")
        XCTAssertEqual(root.strings("classes"), ["flat", "vehicle"])
        XCTAssertEqual(root.int("count"), 42)
        XCTAssertEqual(root.double("ratio"), 0.25)
        XCTAssertEqual(root.int("paired"), 1)
        XCTAssertNil(root.string("absent"))
        XCTAssertTrue(file.exists("/group/grid"))
        XCTAssertFalse(file.exists("/group/nothing"))
        XCTAssertThrowsError(try file.openDataset("/nothing")) { error in
            XCTAssertEqual(error as? FileError, FileError(file: path, dataset: "/nothing", problem: "dataset missing"))
        }
    }
}
