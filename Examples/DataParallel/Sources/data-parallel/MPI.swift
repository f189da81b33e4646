import CMPI

/// The few MPI calls the example needs, on `MPI_COMM_WORLD`.
struct Communicator {
  let rank: Int
  let size: Int

  /// Initialises MPI; call once, before anything else.
  static func initialize() -> Communicator {
    // Since MPI-2 MPI_Init accepts null argc and argv.
    check(MPI_Init(nil, nil), "MPI_Init")
    var rank: Int32 = 0
    var size: Int32 = 0
    check(MPI_Comm_rank(cmpi_comm_world(), &rank), "MPI_Comm_rank")
    check(MPI_Comm_size(cmpi_comm_world(), &size), "MPI_Comm_size")
    return Communicator(rank: Int(rank), size: Int(size))
  }

  /// Replaces `buffer` on every rank by the elementwise sum of every rank's
  /// `buffer` (`MPI_Allreduce` with `MPI_SUM`, in place). Every rank must
  /// pass the same length.
  func allReduceSum(_ buffer: inout [Double]) {
    let count = Int32(buffer.count)
    buffer.withUnsafeMutableBufferPointer { b in
      Self.check(
        MPI_Allreduce(
          UnsafeRawPointer(cmpi_in_place()), b.baseAddress, count, cmpi_double(), cmpi_sum(),
          cmpi_comm_world()),
        "MPI_Allreduce")
    }
  }

  /// Rank 0's `value`, on every rank.
  func broadcast(_ value: Int32) -> Int32 {
    var value = value
    Self.check(MPI_Bcast(&value, 1, cmpi_int(), 0, cmpi_comm_world()), "MPI_Bcast")
    return value
  }

  func finalize() {
    Self.check(MPI_Finalize(), "MPI_Finalize")
  }

  /// Ends every rank of the job (a rank that cannot continue must not leave
  /// the others waiting in a collective).
  func abort(_ code: Int32) -> Never {
    MPI_Abort(cmpi_comm_world(), code)
    fatalError("MPI_Abort returned")
  }

  private static func check(_ code: Int32, _ call: String) {
    if code != cmpi_success() {
      print("error: \(call) returned \(code)")
      MPI_Abort(cmpi_comm_world(), 3)
    }
  }
}
