/* split.h — which records go where: random or stratified subsets, reproducible by seed. */
#ifndef TP_SPLIT_H
#define TP_SPLIT_H

#include <stdint.h>

/* Largest-remainder apportionment: out[c] = floor(n[c] * frac), plus one for the classes
 * with the largest remainders (ties: lower c first) until the outs sum to total. Needs
 * |total - frac * sum(n)| <= 1/2, so each out[c] is within one of n[c] * frac. */
void tp_apportion(const int64_t *n, int k, double frac, int64_t total, int64_t *out);

/* Assigns each of n records to part -1 (not taken), 0 (first output) or 1 (second).
 * labels (NULL: one class) groups records into classes; take records are kept (stratified
 * by class: each class keeps its share), and of those round(ratio * take) go to part 0,
 * again stratified. Within a class the records chosen are the first of a random
 * permutation drawn from seed and the class's label, so a seed always picks the same
 * records. */
void tp_split_assign(const int64_t *labels, int64_t n, int64_t take, double ratio, uint64_t seed, int8_t *part);

#endif
