/**
 * Control chart constants for subgroups of size n (Montgomery, Introduction to Statistical
 * Quality Control, Appendix VI; ASTM E2587).
 */

/** d2(n): mean of the relative range W = R/σ of n normal observations. */
export const D2: Readonly<Record<number, number>> = {
  2: 1.128,
  3: 1.693,
  4: 2.059,
  5: 2.326,
  6: 2.534,
  7: 2.704,
  8: 2.847,
  9: 2.97,
  10: 3.078,
}

/** d3(n): standard deviation of the relative range. */
export const D3: Readonly<Record<number, number>> = {
  2: 0.853,
  3: 0.888,
  4: 0.88,
  5: 0.864,
  6: 0.848,
  7: 0.833,
  8: 0.82,
  9: 0.808,
  10: 0.797,
}

/** D4(2): upper limit factor of a moving range of two points, as tabulated. */
export const D4_MR = 3.267
