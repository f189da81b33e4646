// swift-tools-version:6.0
import PackageDescription

// No dependencies and no unsafeFlags: the package must stay usable as a
// dependency. Build with `-Xswiftc -target-cpu -Xswiftc haswell` (or
// `native`) for FMA/AVX kernels; see the Performance article.
let package = Package(
  name: "ImbalanceLoss",
  platforms: [
    .macOS(.v13), .iOS(.v16), .tvOS(.v16), .watchOS(.v9), .visionOS(.v1),
  ],
  products: [
    // The one product dependants see. The demo is an executable target of
    // this package (`swift run -c release imbalance-demo`), not a product.
    .library(name: "ImbalanceLoss", targets: ["ImbalanceLoss"])
  ],
  targets: [
    .target(name: "ImbalanceLoss"),
    .testTarget(
      name: "ImbalanceLossTests",
      dependencies: ["ImbalanceLoss"]
    ),
    .executableTarget(
      name: "imbalance-demo",
      dependencies: ["ImbalanceDemoKit"]
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
