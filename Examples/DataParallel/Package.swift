// swift-tools-version:6.0
import PackageDescription

// The distributed example of issue 13: data-parallel training with Open MPI.
// A package of its own, so the library keeps zero dependencies; it needs the
// Open MPI development files (`libopenmpi-dev`, found through
// `pkg-config ompi-c`). Build and run with `Scripts/data-parallel.sh`.
let package = Package(
  name: "DataParallel",
  dependencies: [
    // Named: a path dependency's identity is otherwise its folder's name
    // (a clone or worktree may be called anything).
    .package(name: "ImbalanceLoss", path: "../..")
  ],
  targets: [
    // MPI's C API. The module map imports a shim header whose static inline
    // functions return the handles Swift cannot import (MPI_COMM_WORLD,
    // MPI_DOUBLE, MPI_SUM, MPI_IN_PLACE are macros over Open MPI's globals).
    .systemLibrary(
      name: "CMPI",
      pkgConfig: "ompi-c",
      providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]
    ),
    .executableTarget(
      name: "data-parallel",
      dependencies: [
        "CMPI",
        .product(name: "ImbalanceLoss", package: "ImbalanceLoss"),
      ]
    ),
  ],
  swiftLanguageModes: [.v6]
)
