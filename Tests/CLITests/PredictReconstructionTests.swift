import XCTest
import HDF5

/// `evdistill predict --reconstruction` on the E2I and I2E networks of an unpaired BMR run:
/// the reconstructions have the other modality's shape, E2I's are sigmoid intensities, the
/// file says which direction it holds, and PNGs are written.
final class PredictReconstructionTests: XCTestCase {
    func testBMRNetworksWriteReconstructions() throws {
        let folder = try CLI.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = folder.appendingPathComponent("data").path
        func run(_ arguments: [String]) throws {
            let result = try CLI.run(arguments + ["--quiet"])
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
        }
        try run(["simulate", "--scenes", "1", "--scene-seconds", "0.3", "--height", "16", "--width", "32", "--seed", "3", "-o", data])
        let teacher = folder.appendingPathComponent("teacher").path
        try run(["train", "--modality", "images", "--train", data + "/train.h5", "--val", data + "/val.h5", "--out", teacher,
                 "--epochs", "1"])
        let student = folder.appendingPathComponent("student").path
        try run(["distill", "--teacher", teacher + "/model.safetensors", "--images", data + "/unpaired_images.h5",
                 "--events", data + "/unpaired_events.h5", "--bmr-pretrain", data + "/train.h5", "--bmr-pretrain-epochs", "1",
                 "--val", data + "/val.h5", "--out", student, "--epochs", "1", "--losses", "kd", "--widths", "4,8,16,32"])

        let test = try HDF5File(path: data + "/test.h5")
        let samples = try test.openDataset("/events").shape[0]
        for (network, channels, direction) in [("e2i", 1, "events_to_image"), ("i2e", 5, "image_to_events")] {
            let output = folder.appendingPathComponent("\(network).h5").path
            let pictures = folder.appendingPathComponent("\(network)-png").path
            try run(["predict", "--checkpoint", student + "/\(network).safetensors", "--data", data + "/test.h5", "--reconstruction",
                     "-o", output, "--png", pictures, "--png-count", "2"])
            let file = try HDF5File(path: output)
            let reconstructions = try file.openDataset("/reconstructions")
            XCTAssertEqual(reconstructions.shape, [samples, channels, 16, 32], network)
            XCTAssertEqual(try file.attributes().string("direction"), direction)
            let values: [Float] = try reconstructions.readAll()
            XCTAssertTrue(values.allSatisfy(\.isFinite), network)
            if network == "e2i" { XCTAssertTrue(values.allSatisfy { $0 > 0 && $0 < 1 }, "E2I ends in a sigmoid") }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: pictures).sorted(),
                           ["reconstruction_0000.png", "reconstruction_0001.png"], network)
        }
    }
}
