// Normal-distribution numerics for TPE's truncated Gaussian kernels: erfc, log Φ, the log of a
// Gaussian mass over an interval (stable far in the tails) and truncated sampling.
import type { SeededRandom } from '../../util/random.js'
import { gaussian } from './common.js'

const SQRT1_2 = Math.SQRT1_2
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI)

/**
 * The complementary error function, to ~1e-15 relative: for x < 2 one minus the series
 * erf(x) = 2/√π·e^(−x²)·Σ (2x²)^n·x / (1·3·…·(2n+1)) (all terms positive, no cancellation);
 * for x >= 2 the continued fraction e^(−x²)/√π / (x + ½/(x + 1/(x + 3⁄2/(x + …)))).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN
  if (x < 0) return 2 - erfc(-x)
  if (x < 2) {
    let term = x
    let sum = x
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1)
      sum += term
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum
  }
  if (x > 27) return 0
  // Evaluated from the tail up; 80 levels are plenty for x >= 2.
  let fraction = x
  for (let n = 80; n >= 1; n--) fraction = x + n / 2 / fraction
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / fraction
}

/** The standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z * SQRT1_2)
}

/** log Φ(z), finite for every finite z (an asymptotic series below −20, where Φ underflows). */
export function logNormalCdf(z: number): number {
  if (z > -20) return Math.log(normalCdf(z))
  const r = 1 / (z * z)
  const series = 1 - r + 3 * r * r - 15 * r * r * r + 105 * r * r * r * r
  return -0.5 * z * z - Math.log(-z) - LOG_SQRT_2PI + Math.log(series)
}

/** log(1 − e^x) for x <= 0, accurate near 0 and far below it. */
function log1mExp(x: number): number {
  return x > -Math.LN2 ? Math.log(-Math.expm1(x)) : Math.log1p(-Math.exp(x))
}

/** log(Φ(b) − Φ(a)) for a <= b, computed on the side of the tails so it does not round to −∞. */
export function logGaussMass(a: number, b: number): number {
  if (!(a < b)) return -Infinity
  if (a >= 0) {
    // Upper tail: Φ(b) − Φ(a) = Φ(−a) − Φ(−b).
    const [hi, lo] = [logNormalCdf(-a), logNormalCdf(-b)]
    return hi + log1mExp(lo - hi)
  }
  if (b <= 0) {
    const [hi, lo] = [logNormalCdf(b), logNormalCdf(a)]
    return hi + log1mExp(lo - hi)
  }
  return Math.log1p(-(normalCdf(a) + normalCdf(-b)))
}

/**
 * A draw of N(mu, sigma²) truncated to [low, high], by rejection: the kernels TPE builds keep
 * their mean inside the bounds and sigma <= high − low, so at least a third of the mass is
 * inside and a draw takes three tries at most on average. Falls back to uniform (never seen).
 */
export function sampleTruncNormal(rng: SeededRandom, mu: number, sigma: number, low: number, high: number): number {
  for (let tries = 0; tries < 1000; tries++) {
    const x = mu + sigma * gaussian(rng)
    if (x >= low && x <= high) return x
  }
  return low + rng.next() * (high - low)
}
