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
    // The products dependants see. The demo is an executable target of
    // this package (`swift run -c release imbalance-demo`), not a product.
    .library(name: "ImbalanceLoss", targets: ["ImbalanceLoss"]),
    // Opt-in bridge to differentiable Swift (`import _Differentiation`).
    // Its sources are wrapped in `#if canImport(_Differentiation)`, so it
    // builds, empty, where the toolchain has no differentiation module; the
    // core target never imports it.
    .library(
      name: "ImbalanceLossDifferentiation", targets: ["ImbalanceLossDifferentiation"]),
  ],
  targets: [
    .target(name: "ImbalanceLoss"),
    .testTarget(
      name: "ImbalanceLossTests",
      dependencies: ["ImbalanceLoss"]
    ),
    .target(
      name: "ImbalanceLossDifferentiation",
      dependencies: ["ImbalanceLoss"]
    ),
    .testTarget(
      name: "ImbalanceLossDifferentiationTests",
      dependencies: ["ImbalanceLossDifferentiation", "ImbalanceLoss"]
    ),
    .executableTarget(
      name: "imbalance-demo",
      dependencies: ["ImbalanceDemoKit"]
    ),
    // The demo's logic, as a library so its pieces can be tested.
    .target(
      name: "ImbalanceDemoKit",
      dependencies: ["ImbalanceLoss", "ImbalanceLossDifferentiation"]
    ),
    .testTarget(
      name: "ImbalanceDemoTests",
      dependencies: ["ImbalanceDemoKit", "ImbalanceLoss"]
    ),
  ],
  swiftLanguageModes: [.v6]
)
