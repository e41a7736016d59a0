// Ablation study (Maggy's leave-one-component-out) on executors: one trial with everything,
// one per left-out feature and layer, and the metric change of each against the full model.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { experiment } from '../../src/index.js'
import { useTempDir } from '../helpers/temp-dir.js'
import { ablationTrain, buildAblationModel } from '../fixtures/experiment-functions.js'

const temp = useTempDir()

test('leaving out the informative feature costs accuracy; the noise feature and a hidden layer do not', async () => {
  const result = await experiment.ablation(ablationTrain, {
    features: ['signal', 'noise'],
    layers: ['hidden_2'],
    baseModel: buildAblationModel,
    metric: 'accuracy',
    home: temp.join('home'),
    progress: false,
    executors: 2,
  })
  assert.equal(result.state, 'finished')
  assert.deepEqual(result.trials.map((t) => t.params.ablated), ['none', 'feature:signal', 'feature:noise', 'layer:hidden_2'])
  const byComponent = Object.fromEntries(result.ablation.map((entry) => [entry.component, entry]))
  assert.equal(result.ablation[0].component, 'none')
  assert.equal(byComponent.none.delta, 0)
  assert.ok((byComponent.none.value ?? 0) > 0.9, `full model learns the task: ${byComponent.none.value}`)
  assert.ok((byComponent['feature:signal'].delta ?? 0) < -0.2, `without the signal accuracy drops: ${byComponent['feature:signal'].delta}`)
  assert.ok(Math.abs(byComponent['feature:noise'].delta ?? 1) < 0.08, `noise does not matter: ${byComponent['feature:noise'].delta}`)
  assert.equal(result.ablation[1].component, 'feature:signal', 'the most harmful removal is listed first')
  const layerTrial = result.trials.find((t) => t.params.ablated === 'layer:hidden_2')
  assert.equal(layerTrial?.metrics.layers, 2, 'the layer trial trained the model without hidden_2')
  assert.equal(result.trials.find((t) => t.params.ablated === 'none')?.metrics.layers, 3)
})

test('an ablation without components, or with layers but no base model, is refused before it starts', async () => {
  await assert.rejects(experiment.ablation(ablationTrain, { home: temp.join('home') }), /features.*layers/)
  await assert.rejects(experiment.ablation(ablationTrain, { layers: ['hidden_2'], home: temp.join('home') }), /baseModel/)
})
