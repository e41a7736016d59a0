// The library side of serving, through the package's `malt/serving` entry (dist/, as installed):
// export a model into a repository and serve it in-process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { tf } from 'malt'
import { exportModel, startServer } from 'malt/serving'
import { useTempDir } from '../helpers/temp-dir.js'

const temp = useTempDir()

test("import { exportModel, startServer } from 'malt/serving': a model exported and served in-process answers predict", async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1, kernelInitializer: 'ones', biasInitializer: 'zeros' })] })
  await model.save(`file://${temp.join('trained')}`)
  const exported = await exportModel({ source: temp.join('trained'), repository: temp.join('models'), name: 'sum' })
  assert.deepEqual([exported.version, exported.dir], [1, join(temp.join('models'), 'sum', '1')])
  const again = await exportModel({ source: join(temp.join('trained'), 'model.json'), repository: temp.join('models'), name: 'sum' })
  assert.equal(again.version, 2, 'the next export is the next version')
  const server = await startServer({ models: temp.join('models'), port: 0, accessLog: false, pollIntervalSeconds: 0 })
  try {
    const response = await fetch(`${server.url}/v1/models/sum:predict`, { method: 'POST', body: JSON.stringify({ instances: [[1, 2], [3, 4]] }) })
    assert.deepEqual(await response.json(), { predictions: [[3], [7]] })
    const status = (await (await fetch(`${server.url}/v1/models/sum`)).json()) as { model_version_status: { version: string; state: string }[] }
    assert.deepEqual(status.model_version_status.map((entry) => [entry.version, entry.state]), [['2', 'AVAILABLE']], 'the latest policy serves version 2 only')
  } finally {
    await server.close()
  }
  model.dispose()
})
