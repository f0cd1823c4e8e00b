// swift-tools-version:6.0
import PackageDescription

// Dependencies point one way, downward (see ../shared/STYLE.md):
//   C shims → HDF5 (Swift wrapper) → EventIO → EventRepresentations → evdistill
let package = Package(
    name: "EventDistill",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "evdistill", targets: ["evdistill"]),
        .library(name: "EventIO", targets: ["EventIO"]),
        .library(name: "EventRepresentations", targets: ["EventRepresentations"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries (Debian packages installed by Tools/install-deps.sh).
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CBlosc", pkgConfig: "blosc", providers: [.apt(["libblosc-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        .target(name: "HDF5", dependencies: ["CHDF5", "CBlosc"]),
        .target(name: "ParallelLoops", dependencies: ["CPUHints"]),
        .target(name: "CPUHints"),
        .target(name: "AtomicFiles"),
        .target(name: "EventIO", dependencies: ["HDF5", "CBlosc", "ParallelLoops", "AtomicFiles"]),
        .target(name: "EventRepresentations", dependencies: ["EventIO", "ParallelLoops", "CPUHints"]),
        // The tensor / autograd engine (issue 4): OpenBLAS sgemm for the heavy math.
        .target(name: "CWinogradKernels"),
        .target(name: "Tensor", dependencies: ["CBLAS", "ParallelLoops", "CWinogradKernels"]),
        .target(name: "CResampleKernels"),
        .target(name: "FastMath"),
        .target(name: "Autograd", dependencies: ["Tensor", "ParallelLoops", "CResampleKernels", "FastMath"]),
        .target(name: "NN", dependencies: ["Autograd", "Tensor"]),
        .target(name: "Models", dependencies: ["NN", "Autograd", "Tensor"]),
        .target(name: "Distillation", dependencies: ["Autograd", "Tensor", "NN"]),
        // Scoring never builds a graph: no Autograd here.
        .target(name: "Metrics", dependencies: ["ParallelLoops"]),
        .target(name: "Training", dependencies: ["Models", "Distillation", "NN", "Autograd", "Tensor", "Metrics", "HDF5", "EventRepresentations",
                                                 "AtomicFiles", "ConsoleProgress"]),
        .target(name: "Simulation", dependencies: ["FastMath", "EventIO", "ParallelLoops", "Imaging", "EventRepresentations", "HDF5", "AtomicFiles"]),
        .target(name: "Imaging", dependencies: ["CPNG", "AtomicFiles"]),
        .target(name: "ConsoleProgress"),
        .executableTarget(
            name: "evdistill",
            dependencies: [
                "EventIO", "EventRepresentations", "Imaging", "ConsoleProgress", "HDF5", "AtomicFiles", "ParallelLoops", "Simulation",
                "Models", "NN", "Autograd", "Tensor", "Metrics", "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Assertions shared by test targets (test targets cannot import one another).
        .target(name: "TensorTestSupport", dependencies: ["Tensor"], path: "Tests/TensorTestSupport"),

        .testTarget(name: "HDF5Tests", dependencies: ["HDF5"]),
        .testTarget(name: "ParallelLoopsTests", dependencies: ["ParallelLoops"]),
        .testTarget(name: "EventIOTests", dependencies: ["EventIO", "HDF5"]),
        .testTarget(name: "EventRepresentationsTests", dependencies: ["EventRepresentations", "EventIO", "HDF5"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
        .testTarget(name: "SimulationTests", dependencies: ["FastMath", "Simulation", "EventIO", "HDF5"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CWinogradKernels"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "Tensor", "TensorTestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Autograd", "Tensor", "TensorTestSupport"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics"]),
        .testTarget(name: "DistillationTests", dependencies: ["Distillation", "Autograd", "Tensor"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Tensor", "HDF5"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "NN", "Autograd", "Tensor", "TensorTestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["HDF5", "Imaging"]),
    ]
)
