// The loop every binary kernel runs: fixed chunks (threads), blocks of eight
// SIMD vectors with compensated block sums, padding and ignored lanes masked
// to weight 0. A kernel supplies only its per-vector element.

/// The two outputs and three sums of a binary element on one vector.
@usableFromInline
typealias BinaryElementResult = (sums: (Vector, Vector, Vector), first: Vector, second: Vector)

/// The per-vector work of a binary kernel: from logits `z`, targets `y` and
/// normalised weights `f = w / W` (zero in padding and ignored lanes), up to
/// three sums to accumulate and the gradient to store.
@usableFromInline
typealias BinaryElement = (_ z: Vector, _ y: Vector, _ f: Vector) -> (
  sums: (Vector, Vector, Vector), gradient: Vector
)

/// A binary kernel with two outputs per element (the gradient and the Hessian
/// diagonal); `index` is the batch index of the vector's first lane.
@usableFromInline
typealias BinaryPairElement = (_ z: Vector, _ y: Vector, _ f: Vector, _ index: Int) ->
  BinaryElementResult

/// The per-vector work of a binary kernel as a type. `apply` gets the
/// vector's logits, targets, normalised weights `f` (zero in padding and
/// ignored lanes), the vector of a stored quantity (an earlier pass's output,
/// such as `exp(-|z|)`; zero when nothing is stored) and the batch index of
/// its first lane; it returns three sums and two outputs. Generic
/// specialisation inlines `apply` into the loop, where a closure stays a call
/// per vector (about 1.7x slower): the hot kernels use this form.
@usableFromInline
protocol BinaryElementFunction {
  /// Whether `apply` returns a second output worth storing (false by
  /// default: the loop then drops the store at compile time).
  static var hasSecondOutput: Bool { get }

  func apply(_ z: Vector, _ y: Vector, _ f: Vector, _ stored: Vector, _ index: Int)
    -> BinaryElementResult
}

extension BinaryElementFunction {
  @inlinable static var hasSecondOutput: Bool { false }
}

/// A closure as a ``BinaryElementFunction`` (called, not inlined): the
/// adapter of the less hot kernels.
@usableFromInline
struct ClosureElement: BinaryElementFunction {
  @usableFromInline let body: BinaryPairElement
  @inlinable static var hasSecondOutput: Bool { true }

  @inlinable
  init(_ body: @escaping BinaryPairElement) {
    self.body = body
  }

  @inlinable @inline(__always)
  func apply(_ z: Vector, _ y: Vector, _ f: Vector, _: Vector, _ index: Int)
    -> BinaryElementResult
  {
    body(z, y, f, index)
  }
}

@usableFromInline
enum BinaryKernels {
  /// Vectors per block: each block's sums are reduced across lanes and added
  /// to a compensated sum, so rounding error grows with the block size (64
  /// elements), not with N.
  @usableFromInline static let vectorsPerBlock = 8

  /// Runs `element` over the batch in fixed chunks and returns the three
  /// accumulated sums (in lanes 0...2). Writes the gradient when `gradient`
  /// is non-nil.
  @inlinable @inline(__always)
  static func run(
    _ batch: BinaryBatch, gradient: KernelOutput?,
    parallelism: Parallelism, _ element: BinaryElement
  ) -> SIMD4<Double> {
    run(batch, first: gradient, second: nil, parallelism: parallelism) { z, y, f, _ in
      let r = element(z, y, f)
      return (r.sums, r.gradient, Vector())
    }
  }

  /// ``run(_:reading:first:second:parallelism:_:)`` with a closure and
  /// nothing stored: two outputs, stored where the pointers are non-nil.
  @inlinable @inline(__always)
  static func run(
    _ batch: BinaryBatch, first: KernelOutput?,
    second: KernelOutput?, parallelism: Parallelism,
    _ element: BinaryPairElement
  ) -> SIMD4<Double> {
    withoutActuallyEscaping(element) { element in
      run(
        batch, reading: nil, first: first, second: second, parallelism: parallelism,
        ClosureElement(element))
    }
  }

  /// The one loop behind every binary kernel: runs `element` over the batch
  /// in fixed chunks, returns the three accumulated sums (in lanes 0...2) and
  /// stores the element's two outputs where `first` and `second` are
  /// non-nil (of the batch's element type). `element` also gets the vector
  /// of `stored` at the same index (zero in padding lanes); `first` may be
  /// written over `stored` in place.
  /// Lanes whose target is the batch's ignore marker get `y = 0` and `f = 0`;
  /// with label smoothing, the others get `y (1 - eps) + eps / 2` (padding
  /// lanes too, harmlessly: their `f` is 0).
  @inlinable @inline(__always)
  static func run<Element: BinaryElementFunction>(
    _ batch: BinaryBatch, reading stored: UnsafePointer<Double>? = nil,
    first: KernelOutput?, second: KernelOutput? = nil,
    parallelism: Parallelism, _ element: Element
  ) -> SIMD4<Double> {
    runCompensated(
      batch, reading: stored, first: first, second: second, parallelism: parallelism, element
    ).value
  }

  /// ``run(_:reading:first:second:parallelism:_:)`` returning the sums as
  /// compensated sums, before their final rounding.
  @inlinable @inline(__always)
  static func runCompensated<Element: BinaryElementFunction>(
    _ batch: BinaryBatch, reading stored: UnsafePointer<Double>? = nil,
    first: KernelOutput?, second: KernelOutput? = nil,
    parallelism: Parallelism, _ element: Element
  ) -> CompensatedSum4 {
    // One specialisation of the loop per element type of the caller's buffers.
    if batch.isFloat {
      return runCompensated(batch, stored, first, second, parallelism, element, Float.self)
    }
    return runCompensated(batch, stored, first, second, parallelism, element, Double.self)
  }

  @inlinable @inline(__always)
  static func runCompensated<Element: BinaryElementFunction, S: StoredScalar>(
    _ batch: BinaryBatch, _ stored: UnsafePointer<Double>?, _ first: KernelOutput?,
    _ second: KernelOutput?, _ parallelism: Parallelism, _ element: Element, _: S.Type
  ) -> CompensatedSum4 {
    let pointers = UncheckedSendable(
      (
        stored, first?.pointer(S.self),
        Element.hasSecondOutput ? second?.pointer(S.self) : nil
      ))
    return ChunkedReduction.compensatedSum(
      itemCount: batch.count, logitsPerItem: 1, parallelism: parallelism
    ) { range in
      runChunk(
        batch, range, pointers.value.0, pointers.value.1, pointers.value.2, element)
    }
  }

  @inlinable @inline(__always)
  static func runChunk<Element: BinaryElementFunction, S: StoredScalar>(
    _ batch: BinaryBatch, _ range: Range<Int>, _ stored: UnsafePointer<Double>?,
    _ first: UnsafeMutablePointer<S>?, _ second: UnsafeMutablePointer<S>?,
    _ element: Element
  ) -> SIMD4<Double> {
    let (z, y, weights) = batch.buffers(S.self)
    let ignored = batch.ignoredTarget
    let second = Element.hasSecondOutput ? second : nil
    let scale = batch.normalizer.scale
    let reciprocal = batch.normalizer.reciprocal
    var total = CompensatedSum4()
    var i = range.lowerBound
    let end = range.upperBound
    while i < end {
      var s0 = Vector()
      var s1 = Vector()
      var s2 = Vector()
      var v = 0
      while v < vectorsPerBlock && i < end {
        // One call site for `element`, full vectors and the tail alike, so
        // its inlined exp/log1p (about 100 vector operations) appear once.
        let full = i + 8 <= end
        var zv = Vector()
        var yv = Vector()
        var f = Vector()
        var sv = Vector()
        if full {
          zv = S.load(z + i)
          yv = S.load(y + i)
          if let w = weights {
            f = (S.load(w + i) * scale) * reciprocal
          } else {
            f = Vector(repeating: reciprocal)
          }
          if let stored { sv = SIMDLoad.load(stored + i) }
        } else {
          // Tail: padding lanes have f = 0, z = 0, y = 0, so they add nothing.
          for lane in 0..<(end - i) {
            zv[lane] = z[i + lane].widened
            yv[lane] = y[i + lane].widened
            f[lane] = (weights.map { ($0[i + lane].widened * scale) * reciprocal }) ?? reciprocal
            if let stored { sv[lane] = stored[i + lane] }
          }
        }
        if let smoothing = batch.smoothing {
          // Smoothed in the loop, after the marker is matched on the raw target.
          let raw = yv
          yv = yv * smoothing.keep + smoothing.shift
          if let ignored { batch.mask(&yv, &f, ignored, matching: raw) }
        } else if let ignored {
          batch.mask(&yv, &f, ignored)
        }
        let r = element.apply(zv, yv, f, sv, i)
        s0 += r.sums.0
        s1 += r.sums.1
        s2 += r.sums.2
        if full {
          if let first { S.store(r.first, first + i) }
          if let second { S.store(r.second, second + i) }
        } else {
          if let first {
            for lane in 0..<(end - i) { first[i + lane] = S(rounding: r.first[lane]) }
          }
          if let second {
            for lane in 0..<(end - i) { second[i + lane] = S(rounding: r.second[lane]) }
          }
        }
        i = full ? i + 8 : end
        v += 1
      }
      total.add(SIMD4(s0.sum(), s1.sum(), s2.sum(), 0))
    }
    return total.value
  }
}
