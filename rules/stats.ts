/**
 * The numerical functions SPC needs, in plain arithmetic (no dependencies): log-gamma, the
 * normal distribution, and the chi-square quantile.
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
]

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x)
  const z = x - 1
  let a = LANCZOS[0] as number
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += (LANCZOS[i] as number) / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** Φ(x), the standard normal distribution function. */
export function normalCdf(x: number): number {
  // The complementary form keeps precision far in the tails, where PPM are computed.
  if (x < -38) return 0
  if (x > 38) return 1
  return 0.5 * erfcPrecise(-x / Math.SQRT2)
}

/**
 * erfc to about 1e-15 relative: a continued fraction for large |x|, the series of erf for
 * small |x| (PPM of a capable process live far out in the tail, where 1e-7 is not enough).
 */
function erfcPrecise(x: number): number {
  if (x < 0) return 2 - erfcPrecise(-x)
  if (x < 0.5) {
    // erf series: 2/√π Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
    let sum = x
    let term = x
    for (let n = 1; n < 60; n++) {
      term *= (-x * x) / n
      const add = term / (2 * n + 1)
      sum += add
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum
  }
  // Lentz's continued fraction: erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …))))
  const tiny = 1e-300
  let f = x
  let c = x
  let d = 0
  for (let n = 1; n < 500; n++) {
    const an = n / 2
    d = x + an * d
    d = d === 0 ? tiny : d
    c = x + an / c
    c = c === 0 ? tiny : c
    d = 1 / d
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f
}

/** Φ⁻¹(p): the standard normal quantile (Wichura's AS 241, about 1e-16 relative). */
// biome-ignore-start lint/correctness/noPrecisionLoss: Wichura's AS 241 coefficients, kept as published
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY
    if (p === 1) return Number.POSITIVE_INFINITY
    return Number.NaN
  }
  const q = p - 0.5
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q
    return (
      (q *
        (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
          45921.953931549871457) *
          r +
          13731.693765509461125) *
          r +
          1971.5909503065514427) *
          r +
          133.14166789178437745) *
          r +
          3.387132872796366608)) /
      (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r +
        21213.794301586595867) *
        r +
        5394.1960214247511077) *
        r +
        687.1870074920579083) *
        r +
        42.313330701600911252) *
        r +
        1)
    )
  }
  let r = q < 0 ? p : 1 - p
  r = Math.sqrt(-Math.log(r))
  let value: number
  if (r <= 5) {
    r -= 1.6
    value =
      (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r +
        0.24178072517745061177) *
        r +
        1.27045825245236838258) *
        r +
        3.64784832476320460504) *
        r +
        5.7694972214606914055) *
        r +
        4.6303378461565452959) *
        r +
        1.42343711074968357734) /
      (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r +
        0.0151986665636164571966) *
        r +
        0.14810397642748007459) *
        r +
        0.68976733498510000455) *
        r +
        1.6763848301838038494) *
        r +
        2.05319162663775882187) *
        r +
        1)
  } else {
    r -= 5
    value =
      (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r +
        0.0012426609473880784386) *
        r +
        0.026532189526576123093) *
        r +
        0.29656057182850489123) *
        r +
        1.7848265399172913358) *
        r +
        5.4637849111641143699) *
        r +
        6.6579046435011037772) /
      (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r +
        1.8463183175100546818e-5) *
        r +
        7.868691311456132591e-4) *
        r +
        0.0148753612908506148525) *
        r +
        0.13692988092273580531) *
        r +
        0.59983220655588793769) *
        r +
        1)
  }
  return q < 0 ? -value : value
}
// biome-ignore-end lint/correctness/noPrecisionLoss: Wichura's AS 241 coefficients, kept as published

/** P(a, x): the regularised lower incomplete gamma function. */
export function regularizedGammaP(a: number, x: number): number {
  if (x <= 0) return 0
  const lnPrefix = a * Math.log(x) - x - logGamma(a)
  if (x < a + 1) {
    let sum = 1 / a
    let term = sum
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n)
      sum += term
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break
    }
    return Math.exp(lnPrefix) * sum
  }
  // Continued fraction for Q(a, x) (Lentz).
  const tiny = 1e-300
  let b = x + 1 - a
  let c = 1 / tiny
  let d = 1 / b
  let h = d
  for (let n = 1; n < 1000; n++) {
    const an = -n * (n - a)
    b += 2
    d = an * d + b
    if (Math.abs(d) < tiny) d = tiny
    c = b + an / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return 1 - Math.exp(lnPrefix) * h
}

/** The chi-square distribution function with ν degrees of freedom. */
export function chiSquareCdf(x: number, nu: number): number {
  return regularizedGammaP(nu / 2, x / 2)
}

/** The p-quantile of the chi-square distribution with ν degrees of freedom (bisection, then Newton). */
export function chiSquareQuantile(p: number, nu: number): number {
  if (!(p > 0 && p < 1) || !(nu > 0)) return Number.NaN
  // Wilson–Hilferty start, bracketed and refined.
  const z = normalQuantile(p)
  const h = 2 / (9 * nu)
  let x = Math.max(1e-10, nu * (1 - h + z * Math.sqrt(h)) ** 3)
  let lo = 0
  let hi = Math.max(2 * x, nu + 20 * Math.sqrt(2 * nu) + 50)
  for (let i = 0; i < 200; i++) {
    const f = chiSquareCdf(x, nu) - p
    if (Math.abs(f) < 1e-15) break
    if (f > 0) hi = x
    else lo = x
    const density = Math.exp(
      (nu / 2 - 1) * Math.log(x) - x / 2 - (nu / 2) * Math.LN2 - logGamma(nu / 2),
    )
    let next = x - f / density
    if (!(next > lo && next < hi)) next = (lo + hi) / 2
    if (Math.abs(next - x) < 1e-14 * x) {
      x = next
      break
    }
    x = next
  }
  return x
}
