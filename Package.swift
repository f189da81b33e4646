// swift-tools-version:6.0
import PackageDescription

// No dependencies and no unsafeFlags: the package must stay usable as a
// dependency. Build with `-Xswiftc -target-cpu -Xswiftc haswell` (or
// `native`) for FMA/AVX kernels; see README "Performance".
let package = Package(
  name: "ImbalanceLoss",
  products: [
    .library(name: "ImbalanceLoss", targets: ["ImbalanceLoss"]),
    .executable(name: "imbalance-demo", targets: ["imbalance-demo"]),
  ],
  targets: [
    .target(name: "ImbalanceLoss"),
    .executableTarget(
      name: "imbalance-demo",
      dependencies: ["ImbalanceDemoKit"]
    ),
    .testTarget(
      name: "ImbalanceLossTests",
      dependencies: ["ImbalanceLoss"]
    ),
    // The demo's logic, as a library so its pieces can be tested.
    .target(
      name: "ImbalanceDemoKit",
      dependencies: ["ImbalanceLoss"]
    ),
    .testTarget(
      name: "ImbalanceDemoTests",
      dependencies: ["ImbalanceDemoKit", "ImbalanceLoss"]
    ),
  ],
  swiftLanguageModes: [.v6]
)
