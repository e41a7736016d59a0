// Standard test functions of global optimisation for the search-quality benchmark (Surjanovic &
// Bingham's Virtual Library of Simulation Experiments); bench/lib/optuna_search.py has the same.
import type { Params, SearchSpace } from '../../src/experiments/types.js'

/** A function to minimise over a box, with its known global minimum. */
export interface TestFunction {
  name: string
  space: SearchSpace
  minimum: number
  evaluate(params: Params): number
}

/** Branin-Hoo on x1 ∈ [−5, 10], x2 ∈ [0, 15]; three global minima of 0.397887. */
export const branin: TestFunction = {
  name: 'branin',
  space: { x1: { type: 'float', min: -5, max: 10 }, x2: { type: 'float', min: 0, max: 15 } },
  minimum: 0.397887,
  evaluate(params) {
    const [x1, x2] = [params.x1 as number, params.x2 as number]
    const [b, c, r, s, t] = [5.1 / (4 * Math.PI ** 2), 5 / Math.PI, 6, 10, 1 / (8 * Math.PI)]
    return (x2 - b * x1 * x1 + c * x1 - r) ** 2 + s * (1 - t) * Math.cos(x1) + s
  },
}

const ALPHA = [1.0, 1.2, 3.0, 3.2]
const A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
]
const P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((p) => p * 1e-4))

/** Hartmann 6-D on [0, 1]^6; global minimum −3.32237. */
export const hartmann6: TestFunction = {
  name: 'hartmann6',
  space: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i + 1}`, { type: 'float', min: 0, max: 1 }])),
  minimum: -3.32237,
  evaluate(params) {
    const x = Array.from({ length: 6 }, (_, i) => params[`x${i + 1}`] as number)
    let sum = 0
    for (let i = 0; i < 4; i++) {
      let inner = 0
      for (let j = 0; j < 6; j++) inner += A[i][j] * (x[j] - P[i][j]) ** 2
      sum += ALPHA[i] * Math.exp(-inner)
    }
    return -sum
  },
}

export const TEST_FUNCTIONS = [branin, hartmann6]
