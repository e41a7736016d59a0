// Differential evolution as HopsML's evolutionary search: DE/rand/1/bin over bounded ranges, ints
// stay ints, categoricals evolve as indices, and a combination already evaluated is reused.
import type { Params, SearchAlgorithm, SearchSetup, SearchSpace, Suggestion, TrialView } from '../types.js'
import { paramsKey } from '../space.js'
import type { SeededRandom } from '../../util/random.js'
import {
  badOption, clamp, fromInternal, integerOption, internalBounds, numberOption, randomFor, requireSetup, sampleSpace, toInternal, toLoss,
} from './common.js'

/** Options of {@link DifferentialEvolution}; the defaults are HopsML's. */
export interface DifferentialEvolutionOptions {
  /** Generations evolved after the random generation 0: at most `population × (generations + 1)` trials. @defaultValue 4 */
  generations?: number
  /** Individuals per generation; at least 4 (a mutant needs three others). @defaultValue 6 */
  population?: number
  /** Differential weight F of `a + F·(b − c)`, in (0, 2]. @defaultValue 0.5 */
  mutation?: number
  /** Crossover rate CR: chance that a parameter comes from the mutant, in [0, 1]. @defaultValue 0.7 */
  crossover?: number
}

export const DIFFERENTIAL_EVOLUTION_DEFAULTS = { generations: 4, population: 6, mutation: 0.5, crossover: 0.7 } as const

/** A planned individual whose combination had already been evaluated by an earlier trial. */
export interface DifferentialEvolutionReuse {
  generation: number
  /** The individual's index in its generation. */
  slot: number
  params: Params
  /** The trial whose result was used. */
  trialId: string
}

/** `a + F·(b − c)`, component-wise (DE/rand/1's mutant; bounds are applied afterwards). */
export function mutantVector(a: readonly number[], b: readonly number[], c: readonly number[], mutation: number): number[] {
  return a.map((ai, d) => ai + mutation * (b[d] - c[d]))
}

/**
 * Binomial crossover: component d comes from the mutant when `draws[d] < crossover` or
 * `d === jrand` (so the trial differs from its target in at least one component), else from
 * the target.
 */
export function binomialCrossover(target: readonly number[], mutant: readonly number[], crossover: number, draws: readonly number[], jrand: number): number[] {
  return target.map((td, d) => (draws[d] < crossover || d === jrand ? mutant[d] : td))
}

/** Three distinct indices of `[0, n)` other than `exclude`, drawn uniformly. */
function pickThree(n: number, exclude: number, rng: SeededRandom): [number, number, number] {
  const pool = Array.from({ length: n }, (_, i) => i).filter((i) => i !== exclude)
  for (let k = 0; k < 3; k++) {
    const j = k + rng.nextInt(pool.length - k)
    ;[pool[k], pool[j]] = [pool[j], pool[k]]
  }
  return [pool[0], pool[1], pool[2]]
}

/**
 * Differential evolution, DE/rand/1/bin (Storn & Price 1997; HopsML's defaults). Generation 0
 * is `population` distinct random combinations. For each later generation and each target i:
 * three other individuals a, b, c; mutant `a + F·(b − c)` in the internal view (log ranges on a
 * log scale, categoricals as indices); bounds are respected by clipping the mutant to them
 * (HopsML's choice), then ints and indices are rounded; binomial crossover with CR; the trial
 * replaces its target only when strictly better. A failed trial counts as the worst value.
 *
 * Each generation waits (`'wait'`) until all its trials have ended, since the next one is built
 * from their results; within a generation all trials may run at once.
 *
 * Reuse: a planned combination equal to one already in the history (an earlier generation, or
 * a duplicate within this one) is not suggested again: its known value is used (or awaited,
 * when that trial is still running). The algorithm records each such case in {@link reused}
 * (refreshed by every `suggest`), so the driver can show that the individual was not re-run.
 *
 * State is rebuilt from the history on every `suggest` (the random choices of generation g
 * come from the seed and g alone), so a resumed search continues where it stopped.
 */
export class DifferentialEvolution implements SearchAlgorithm {
  readonly name = 'evolutionary'
  readonly generations: number
  readonly population: number
  readonly mutation: number
  readonly crossover: number
  /** Individuals whose combination was reused from an earlier trial, as of the last `suggest`. */
  reused: DifferentialEvolutionReuse[] = []
  /** The generation being evaluated as of the last `suggest` (`generations` + 1 when done). */
  generation = 0
  /** The population after the last completed selection (value undefined: failed), as of the last `suggest`. */
  members: { params: Params; value?: number }[] = []
  private setupDone: SearchSetup | undefined

  constructor(options: DifferentialEvolutionOptions = {}) {
    const owner = 'DifferentialEvolution'
    if (options.population !== undefined && (typeof options.population !== 'number' || options.population < 4)) {
      throw badOption(owner, 'population', 'an integer >= 4 (each mutant is built from three other individuals)', options.population)
    }
    this.population = integerOption(owner, 'population', options.population, DIFFERENTIAL_EVOLUTION_DEFAULTS.population, 4)
    this.generations = integerOption(owner, 'generations', options.generations, DIFFERENTIAL_EVOLUTION_DEFAULTS.generations, 1)
    this.mutation = numberOption(owner, 'mutation', options.mutation, DIFFERENTIAL_EVOLUTION_DEFAULTS.mutation, Number.MIN_VALUE, 2)
    this.crossover = numberOption(owner, 'crossover', options.crossover, DIFFERENTIAL_EVOLUTION_DEFAULTS.crossover, 0, 1)
  }

  setup(setup: SearchSetup): void {
    this.setupDone = setup
    this.reused = []
    this.generation = 0
    this.members = []
  }

  suggest(trials: readonly TrialView[]): Suggestion {
    const { space, seed, direction } = requireSetup('DifferentialEvolution', this.setupDone)
    const byKey = new Map<string, TrialView>()
    for (const trial of trials) if (!byKey.has(paramsKey(trial.params))) byKey.set(paramsKey(trial.params), trial)
    const owned = new Set<string>()
    this.reused = []
    this.members = []
    let population: Params[] = []
    let losses: number[] = []
    let values: (number | undefined)[] = []
    for (let generation = 0; generation <= this.generations; generation++) {
      this.generation = generation
      const rng = randomFor(seed, generation)
      const plan = generation === 0 ? this.initialPopulation(space, rng) : this.trialPopulation(space, population, rng)
      const planLosses: number[] = []
      const planValues: (number | undefined)[] = []
      let running = false
      for (const [slot, params] of plan.entries()) {
        const key = paramsKey(params)
        const trial = byKey.get(key)
        if (trial === undefined) return { params }
        if (owned.has(key)) this.reused.push({ generation, slot, params, trialId: trial.id })
        owned.add(key)
        if (trial.state === 'pending' || trial.state === 'running') running = true
        const failed = trial.state === 'failed' || trial.value === undefined || Number.isNaN(trial.value)
        planLosses.push(failed ? Infinity : toLoss(trial.value as number, direction))
        planValues.push(failed ? undefined : trial.value)
      }
      // Every trial of the last generation is suggested: nothing more will come.
      if (running) return generation === this.generations ? 'done' : 'wait'
      if (generation === 0) {
        population = plan
        losses = planLosses
        values = planValues
      } else {
        for (let i = 0; i < this.population; i++) {
          if (planLosses[i] < losses[i]) {
            population[i] = plan[i]
            losses[i] = planLosses[i]
            values[i] = planValues[i]
          }
        }
      }
      this.members = population.map((params, i) => (values[i] === undefined ? { params } : { params, value: values[i] }))
    }
    this.generation = this.generations + 1
    return 'done'
  }

  /** `population` random combinations, distinct when the space allows (bounded redraws). */
  private initialPopulation(space: SearchSpace, rng: SeededRandom): Params[] {
    const members: Params[] = []
    const keys = new Set<string>()
    for (let i = 0; i < this.population; i++) {
      let params = sampleSpace(space, rng)
      for (let retry = 0; retry < 100 && keys.has(paramsKey(params)); retry++) params = sampleSpace(space, rng)
      keys.add(paramsKey(params))
      members.push(params)
    }
    return members
  }

  /** One trial combination per target: mutant of three others, clipped, crossed with the target. */
  private trialPopulation(space: SearchSpace, population: readonly Params[], rng: SeededRandom): Params[] {
    const specs = Object.entries(space)
    const vectors = population.map((params) => specs.map(([key, spec]) => toInternal(spec, params[key])))
    return vectors.map((target, i) => {
      const [a, b, c] = pickThree(this.population, i, rng)
      const mutant = mutantVector(vectors[a], vectors[b], vectors[c], this.mutation).map((x, d) => {
        const [low, high] = internalBounds(specs[d][1])
        return clamp(x, low, high)
      })
      const draws = specs.map(() => rng.next())
      const jrand = rng.nextInt(specs.length)
      const trial = binomialCrossover(target, mutant, this.crossover, draws, jrand)
      const params: Params = {}
      for (const [d, [key, spec]] of specs.entries()) params[key] = fromInternal(spec, trial[d])
      return params
    })
  }
}
