/* fused.c: a fused C reference kernel for the core losses of ImbalanceLoss,
 * value and gradient in one pass (two for the losses that need the batch's
 * F first), timed on the inputs of imbalance-bench (the same SplitMix64
 * streams, bit for bit). It is the "fused C kernel, vector libm" of issues
 * 3 and 11: written so that gcc vectorises every loop and calls glibc's
 * libmvec for exp and log1p (this needs -ffast-math). Benchmarks/run.sh
 * builds it twice on x86-64: -march=x86-64 (SSE2: libmvec's _ZGVbN2v_exp
 * and _ZGVbN2v_log1p), the like-for-like peer of the default Swift build,
 * and -march=native, the peer of the tuned one (on arm64: the default
 * target and -mcpu=native).
 *
 *   gcc -O3 -march=x86-64 -ffast-math -o fused-c-sse2 Benchmarks/c/fused.c -lm
 *   gcc -O3 -march=native -ffast-math -o fused-c-native Benchmarks/c/fused.c -lm
 *   ./fused-c-native [--json] [--quick] [--max-logits N] [--min] [--values]
 *       [--peer NAME]
 *
 * --peer NAME sets the "peer" field of the JSON rows and the table header
 * (default "fused C"; run.sh passes "C baseline" and "C native").
 *
 * Not part of any Swift package. Stable forms throughout, like ours:
 * p and 1 - p from one e = exp(-|z|), softplus(z) = max(z, 0) + log1p(e),
 * max-shifted softmax. Unweighted, mean reduction (what the benchmark times).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MARK: inputs (Benchmarks/Sources/imbalance-bench/main.swift) */

static double uniform(uint64_t seed, int64_t i) {
  uint64_t z = seed + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z = z ^ (z >> 31);
  return (double)(z >> 11) * 0x1p-53;
}

/* MARK: kernels; each returns the loss and writes the gradient to g */

/* 1 - ACC_s = mean(y q + (1 - y) p);  g = -(2y - 1) p q / n. */
double smooth_accuracy(const double *restrict z, const double *restrict y,
                       double *restrict g, long n) {
  double sum = 0, inv = 1.0 / n;
  for (long i = 0; i < n; i++) {
    double e = exp(-fabs(z[i])), r = 1 / (1 + e);
    double p = z[i] >= 0 ? r : e * r, q = z[i] >= 0 ? e * r : r;
    sum += y[i] * q + (1 - y[i]) * p;
    g[i] = -(2 * y[i] - 1) * (e * r * r) * inv; /* p q = e / (1 + e)^2 */
  }
  return sum * inv;
}

/* mean(max(z, 0) - y z + log1p(e));  g = (p - y) / n. */
double bce(const double *restrict z, const double *restrict y, double *restrict g, long n) {
  double sum = 0, inv = 1.0 / n;
  for (long i = 0; i < n; i++) {
    double e = exp(-fabs(z[i])), r = 1 / (1 + e);
    double p = z[i] >= 0 ? r : e * r;
    sum += fmax(z[i], 0) - y[i] * z[i] + log1p(e);
    g[i] = (p - y[i]) * inv;
  }
  return sum * inv;
}

/* Pass 1 of the F1 losses: T = sum y p, S = sum (y + p); stores e in g. */
static double batch_f1(const double *restrict z, const double *restrict y,
                       double *restrict g, long n, double *s_out) {
  double t = 0, s = 0;
  for (long i = 0; i < n; i++) {
    double e = exp(-fabs(z[i])), r = 1 / (1 + e);
    double p = z[i] >= 0 ? r : e * r;
    t += y[i] * p;
    s += y[i] + p;
    g[i] = e;
  }
  *s_out = s;
  return s > 0 ? 2 * t / s : 1;
}

/* 1 - F;  g = -(2 / S)(y - F/2) p q, in two passes (pass 2 reads e from g). */
double smooth_f1(const double *restrict z, const double *restrict y, double *restrict g,
                 long n) {
  double s, f = batch_f1(z, y, g, n, &s);
  double c = s > 0 ? -2 / s : 0, h = f / 2;
  for (long i = 0; i < n; i++) {
    double e = g[i], r = 1 / (1 + e);
    g[i] = c * (y[i] - h) * (e * r * r);
  }
  return 1 - f;
}

/* BCE with a_pos = 1 - F/2, a_neg = F/2 (F of the batch, held constant). */
double f1_weighted_ce(const double *restrict z, const double *restrict y,
                      double *restrict g, long n) {
  double s, f = batch_f1(z, y, g, n, &s);
  double an = f / 2, ap = 1 - an, sum = 0, inv = 1.0 / n;
  for (long i = 0; i < n; i++) {
    double e = g[i], r = 1 / (1 + e), l = log1p(e);
    double p = z[i] >= 0 ? r : e * r, q = z[i] >= 0 ? e * r : r;
    sum += ap * y[i] * (fmax(-z[i], 0) + l) + an * (1 - y[i]) * (fmax(z[i], 0) + l);
    g[i] = (an * (1 - y[i]) * p - ap * y[i] * q) * inv;
  }
  return sum * inv;
}

/* Logit-adjusted softmax CE: a = z + off, mean(logsumexp(a) - a_c),
 * g = (softmax(a) - onehot(c)) / n. Three short passes per row. */
double logit_adjusted(const double *restrict z, const long *restrict c,
                      const double *restrict off, double *restrict g, long n, long k) {
  double sum = 0, inv = 1.0 / n;
  for (long i = 0; i < n; i++) {
    const double *zi = z + i * k;
    double *gi = g + i * k;
    double m = -INFINITY, s = 0;
    for (long j = 0; j < k; j++) m = fmax(m, zi[j] + off[j]);
    for (long j = 0; j < k; j++) {
      double e = exp(zi[j] + off[j] - m);
      gi[j] = e;
      s += e;
    }
    double scale = inv / s;
    for (long j = 0; j < k; j++) gi[j] *= scale;
    gi[c[i]] -= inv;
    sum += m + log(s) - (zi[c[i]] + off[c[i]]);
  }
  return sum * inv;
}

/* MARK: timing (median, or with --min the minimum, after two warm-up calls) */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static volatile double sink;
static int use_min;

#define TIME(budget, call)                                                    \
  ({                                                                          \
    sink += (call);                                                           \
    double t0 = now();                                                        \
    sink += (call);                                                           \
    double first = now() - t0;                                                \
    int runs = (int)((budget) / (first > 1e-9 ? first : 1e-9));               \
    runs = runs < 5 ? 5 : runs > 41 ? 41 : runs;                              \
    double ts[41];                                                            \
    for (int r = 0; r < runs; r++) {                                          \
      t0 = now();                                                             \
      sink += (call);                                                         \
      ts[r] = now() - t0;                                                     \
    }                                                                         \
    qsort(ts, runs, sizeof ts[0], cmp);                                       \
    use_min ? ts[0] : ts[runs / 2];                                           \
  })

static int first_row = 1, json;
static const char *peer = "fused C";

static void row(const char *loss, long n, long k, double seconds) {
  double ns = seconds / ((double)n * k) * 1e9;
  if (json)
    printf("%s {\"peer\": \"%s\", \"loss\": \"%s\", \"samples\": %ld, \"classes\": %ld, "
           "\"ns_per_logit\": %.6f}",
           first_row ? "[\n" : ",\n", peer, loss, n, k, ns);
  else
    printf("| %s | %ld | %ld | %.2f |\n", loss, n, k, ns);
  first_row = 0;
}

int main(int argc, char **argv) {
  long max_logits = 10000000;
  double budget = 0.25;
  int values = 0;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--json")) json = 1;
    else if (!strcmp(argv[a], "--quick")) max_logits = 100000, budget = 0.05;
    else if (!strcmp(argv[a], "--min")) use_min = 1;
    else if (!strcmp(argv[a], "--values")) values = 1;
    else if (!strcmp(argv[a], "--max-logits") && a + 1 < argc) max_logits = atol(argv[++a]);
    else if (!strcmp(argv[a], "--peer") && a + 1 < argc) peer = argv[++a];
  }
  long cap = max_logits > 10000 ? max_logits : 10000;
  double *z = malloc(cap * sizeof *z), *y = malloc(cap * sizeof *y), *g = malloc(cap * sizeof *g);
  long *c = malloc(cap * sizeof *c);
  double off[1000];
  if (values) {
    long n = 10000;
    for (long i = 0; i < n; i++) z[i] = -4 + 8 * uniform(1, i), y[i] = uniform(2, i) < 0.1;
    printf("smooth-accuracy %.17g\n", smooth_accuracy(z, y, g, n));
    printf("binary-cross-entropy %.17g\n", bce(z, y, g, n));
    printf("smooth-f1 %.17g\n", smooth_f1(z, y, g, n));
    printf("f1-weighted-ce %.17g\n", f1_weighted_ce(z, y, g, n));
    for (long k = 10; k <= 1000; k *= 10) {
      double total = 0;
      for (long j = 0; j < k; j++) total += 1.0 / (j + 1);
      for (long j = 0; j < k; j++) off[j] = log(1.0 / (j + 1) / total);
      for (long i = 0; i < n / k; i++) c[i] = fmin(k - 1, (long)(uniform(3, i) * k));
      printf("logit-adjusted-ce K=%ld %.17g\n", k, logit_adjusted(z, c, off, g, n / k, k));
    }
    return 0;
  }
  if (!json) printf("| loss | N | K | %s ns/logit |\n|---|---:|---:|---:|\n", peer);
  for (long n = 10000; n <= max_logits; n *= 10) {
    for (long i = 0; i < n; i++) z[i] = -4 + 8 * uniform(1, i), y[i] = uniform(2, i) < 0.1;
    row("smooth-accuracy", n, 1, TIME(budget, smooth_accuracy(z, y, g, n)));
    row("binary-cross-entropy", n, 1, TIME(budget, bce(z, y, g, n)));
    row("smooth-f1", n, 1, TIME(budget, smooth_f1(z, y, g, n)));
    row("f1-weighted-ce", n, 1, TIME(budget, f1_weighted_ce(z, y, g, n)));
  }
  for (long k = 10; k <= 1000; k *= 10) {
    double total = 0;
    for (long j = 0; j < k; j++) total += 1.0 / (j + 1);
    /* offsets tau log(pi_k) with pi normalised, tau = 1 (peers.py) */
    for (long j = 0; j < k; j++) off[j] = log(1.0 / (j + 1) / total);
    for (long t = 10000; t <= max_logits; t *= 10) {
      if (t < 10 * k) continue;
      long n = t / k;
      for (long i = 0; i < n * k; i++) z[i] = -4 + 8 * uniform(1, i);
      for (long i = 0; i < n; i++) c[i] = fmin(k - 1, (long)(uniform(3, i) * k));
      row("logit-adjusted-ce", n, k, TIME(budget, logit_adjusted(z, c, off, g, n, k)));
    }
  }
  if (json) printf("\n]\n");
  return sink == 42;
}
