// The demo's only contact with the C library: elementary functions the
// standard library lacks (erfc, exp, log) and plain file and stderr I/O.
// Kept in one file so the rest of the demo reads as portable Swift.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that could not be read or written, with the system's reason.
public struct FileError: Error, Equatable, CustomStringConvertible {
  /// The path as given.
  public var path: String
  /// The system's explanation (`strerror`).
  public var reason: String

  /// The message shown to the user.
  public var description: String { "\(path): \(reason)" }
}

enum Platform {
  static func erfc(_ x: Double) -> Double { cErfc(x) }
  static func exp(_ x: Double) -> Double { cExp(x) }
  static func log(_ x: Double) -> Double { cLog(x) }

  /// Writes `text` to the standard error stream, unbuffered.
  static func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
      var offset = 0
      while offset < bytes.count {
        let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
        if written <= 0 { return }
        offset += written
      }
    }
  }

  /// Ends the process with `status`.
  static func exit(_ status: Int32) -> Never { cExit(status) }

  /// Whether standard error is a terminal (progress then redraws one line).
  static var standardErrorIsTerminal: Bool { isatty(2) != 0 }

  /// The whole content of the file at `path`, decoded as UTF-8.
  static func readFile(_ path: String) throws(FileError) -> String {
    guard let file = fopen(path, "rb") else { throw lastError(path) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
      bytes.append(contentsOf: chunk[0..<count])
      if count < chunk.count {
        if ferror(file) != 0 { throw lastError(path) }
        break
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Replaces the file at `path` with `contents`.
  static func writeFile(_ path: String, contents: String) throws(FileError) {
    guard let file = fopen(path, "wb") else { throw lastError(path) }
    var contents = contents
    let complete = contents.withUTF8 { bytes in
      bytes.isEmpty || fwrite(bytes.baseAddress, 1, bytes.count, file) == bytes.count
    }
    let closed = fclose(file) == 0
    if !complete || !closed { throw lastError(path) }
  }

  private static func lastError(_ path: String) -> FileError {
    FileError(path: path, reason: String(cString: strerror(errno)))
  }
}

// Inside `Platform` the names `exp`, `log` and `erfc` mean its own methods.
private func cErfc(_ x: Double) -> Double { erfc(x) }
private func cExp(_ x: Double) -> Double { exp(x) }
private func cLog(_ x: Double) -> Double { log(x) }
private func cExit(_ status: Int32) -> Never { exit(status) }
