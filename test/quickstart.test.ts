// The README's first command, as a user runs it: `malt quickstart` loads, profiles, trains,
// reports a real test accuracy and saves a model that loads back.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runMalt } from './helpers/cli.js'
import { tf, ready } from '../src/backend/index.js'

let home: string
before(() => {
  home = mkdtempSync(join(tmpdir(), 'malt-quickstart-'))
})
after(() => rmSync(home, { recursive: true, force: true }))

test('malt quickstart trains on Fashion-MNIST and reports test accuracy', async () => {
  // 6,000 training images keep the test quick; the full run uses all 60,000.
  const run = await runMalt(['quickstart', '--limit', '6000'], { env: { MALT_HOME: home }, timeoutMs: 180_000 })
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /6,000 training and 10,000 test images/)
  assert.match(run.stdout, /T-shirt\/top 600\/1,000/)
  assert.match(run.stdout, /drift train → test, pixels: none/)
  // Progress goes to stderr, ending at 100%.
  assert.match(run.stderr, /epoch 1\/1 100% 47\/47/)
  const accuracy = Number(/test accuracy ([\d.]+)%/.exec(run.stdout)?.[1])
  // Chance is 10%; a dense network reaches ~75% after one epoch on 6,000 images.
  assert.ok(accuracy > 65, `test accuracy ${accuracy}%`)

  const modelJson = join(home, 'quickstart', 'model', 'model.json')
  assert.ok(existsSync(modelJson), 'model saved under MALT_HOME')
  await ready()
  const model = await tf.loadLayersModel(`file://${modelJson}`)
  assert.deepEqual(model.outputs[0].shape, [null, 10])
})

test('malt quickstart rejects a bad option value with a clear message', async () => {
  const run = await runMalt(['quickstart', '--epochs', 'zero'])
  assert.equal(run.code, 1)
  assert.match(run.stderr, /--epochs: expected a positive integer, received "zero"/)
})
