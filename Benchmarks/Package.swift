// swift-tools-version:6.0
import PackageDescription

// The benchmark lives in its own package so the library's manifest stays
// free of executables and flags. Run `./run.sh` (see README.md).
let package = Package(
  name: "ImbalanceLossBenchmarks",
  dependencies: [.package(name: "ImbalanceLoss", path: "..")],
  targets: [
    .executableTarget(
      name: "imbalance-bench",
      dependencies: [.product(name: "ImbalanceLoss", package: "ImbalanceLoss")]
    )
  ],
  swiftLanguageModes: [.v6]
)
