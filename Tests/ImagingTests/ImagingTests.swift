import XCTest
import Imaging

final class ImagingTests: XCTestCase {
    func testPNGRoundTripThroughLibpng() throws {
        var image = RGBImage(width: 5, height: 3)
        for y in 0..<3 { for x in 0..<5 { image[x, y] = (UInt8(x * 50), UInt8(y * 100), UInt8((x + y) * 20)) } }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("evd-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PNGFile.write(image, to: path)
        XCTAssertEqual(try PNGFile.readRGB(path), image)
    }

    func testDivergingColourMap() {
        XCTAssertTrue(ColorMaps.diverging(0, scale: 1) == (255, 255, 255))
        XCTAssertTrue(ColorMaps.diverging(1, scale: 1) == (255, 0, 0), "positive (ON) is red")
        XCTAssertTrue(ColorMaps.diverging(-2, scale: 1) == (0, 0, 255), "negative (OFF) is blue, clamped")
        XCTAssertTrue(ColorMaps.diverging(0.5, scale: 1) == (255, 128, 128))
    }

    func testRobustScaleIgnoresZerosAndHotPixels() {
        var values = [Float](repeating: 0, count: 1000)
        for i in 0..<200 { values[i] = Float(i % 4 + 1) }  // magnitudes 1–4
        values[999] = 1e6  // one hot pixel
        XCTAssertEqual(ColorMaps.robustScale(values), 4)
        XCTAssertEqual(ColorMaps.robustScale([0, 0]), 1)
    }

    func testWritingIntoAMissingFolderFailsWithoutLeavingFiles() {
        XCTAssertThrowsError(try PNGFile.write(RGBImage(width: 1, height: 1), to: "/nonexistent-evd/x.png")) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
    }

    func testRowAndUpscale() {
        let a = RGBImage(width: 2, height: 1, fill: (255, 0, 0)), b = RGBImage(width: 1, height: 2, fill: (0, 0, 255))
        let row = RGBImage.row([a, b], gap: 1, background: (9, 9, 9))
        XCTAssertEqual([row.width, row.height], [4, 2])
        XCTAssertTrue(row[0, 0] == (255, 0, 0) && row[2, 0] == (9, 9, 9) && row[3, 1] == (0, 0, 255))
        let big = a.upscaled(by: 3)
        XCTAssertEqual([big.width, big.height], [6, 3])
        XCTAssertTrue(big[5, 2] == (255, 0, 0))
    }
}
