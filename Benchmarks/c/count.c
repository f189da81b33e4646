/* Drives the kernels of fused.c for Benchmarks/instructions.sh: CALLS calls of
 * one loss at 65536 logits (as imbalance-bench --instructions), so that
 * callgrind can count the C kernel's instructions per logit like ours.
 * fused.c is compiled with -Dmain=fused_main next to this file.
 *
 *   count LOSS CALLS     LOSS: smooth-accuracy, binary-cross-entropy, smooth-f1,
 *                              f1-weighted-ce, logit-adjusted-ce-K
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

double smooth_accuracy(const double *, const double *, double *, long);
double bce(const double *, const double *, double *, long);
double smooth_f1(const double *, const double *, double *, long);
double f1_weighted_ce(const double *, const double *, double *, long);
double logit_adjusted(const double *, const long *, const double *, double *, long, long);

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  const char *loss = argv[1];
  long calls = atol(argv[2]), n = 65536;
  double *z = malloc(n * sizeof *z), *y = malloc(n * sizeof *y), *g = malloc(n * sizeof *g);
  long *c = malloc(n * sizeof *c);
  double off[1000], total = 0, sum = 0;
  for (long i = 0; i < n; i++) z[i] = -4 + 8 * ((i * 2654435761u) % 1000) / 1000.0, y[i] = i % 10 == 0;
  long k = strncmp(loss, "logit-adjusted-ce-", 18) ? 1 : atol(loss + 18);
  if (k < 1 || k > 1000) return 2;
  for (long j = 0; j < k; j++) total += 1.0 / (j + 1);
  for (long j = 0; j < k; j++) off[j] = log(1.0 / (j + 1) / total);
  for (long i = 0; i < n / k; i++) c[i] = (i * 7) % k;
  for (long t = 0; t < calls; t++) {
    if (!strcmp(loss, "smooth-accuracy")) sum += smooth_accuracy(z, y, g, n);
    else if (!strcmp(loss, "binary-cross-entropy")) sum += bce(z, y, g, n);
    else if (!strcmp(loss, "smooth-f1")) sum += smooth_f1(z, y, g, n);
    else if (!strcmp(loss, "f1-weighted-ce")) sum += f1_weighted_ce(z, y, g, n);
    else sum += logit_adjusted(z, c, off, g, n / k, k);
  }
  return sum == 42;
}
