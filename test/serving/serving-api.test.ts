// The library side of serving, through the package's `malt/serving` entry (dist/, as installed):
// export a model into a repository and serve it in-process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tf } from 'malt'
import { exportModel, startServer } from 'malt/serving'
import { runMalt } from '../helpers/cli.js'
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

test('concurrent exports get distinct complete versions; a failed export leaves nothing behind', async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] })
  await model.save(`file://${temp.join('source')}`)
  model.dispose()
  const repository = temp.join('concurrent')
  const results = await Promise.all(Array.from({ length: 4 }, () => exportModel({ source: temp.join('source'), repository, name: 'm' })))
  assert.deepEqual(results.map((result) => result.version).sort(), [1, 2, 3, 4])
  for (const result of results) assert.deepEqual(readdirSync(result.dir).sort(), ['model.json', 'weights.bin'])
  assert.deepEqual(readdirSync(join(repository, 'm')).sort(), ['1', '2', '3', '4'], 'no temporary directory left')

  writeFileSync(temp.join('bad.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [null] }))
  await assert.rejects(exportModel({ source: temp.join('bad.json'), repository, name: 'fresh' }), (error: Error & { code?: string }) => error.code === 'EXPORT_BAD_SOURCE')
  await assert.rejects(exportModel({ source: temp.join('source'), repository, name: 'x.tmp' }), (error: Error & { code?: string }) => error.code === 'EXPORT_BAD_NAME')
  await assert.rejects(exportModel({ source: temp.join('source'), repository, name: 'm', version: 2 }), (error: Error & { code?: string }) => error.code === 'EXPORT_VERSION_EXISTS')
  assert.ok(!readdirSync(repository).includes('fresh'), 'a failed export of a new model leaves no empty model directory')
  assert.deepEqual(readdirSync(join(repository, 'm')).sort(), ['1', '2', '3', '4'])
})

test('malt models export --version N exports that version (the option is the command\'s, not malt\'s own --version)', async () => {
  const run = await runMalt(['models', 'export', '--repo', temp.join('cli-repo'), '--name', 'm', '--from', temp.join('source'), '--version', '5'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /exported m version 5 to /)
  assert.deepEqual(readdirSync(join(temp.join('cli-repo'), 'm', '5')).sort(), ['model.json', 'weights.bin'])
  assert.equal((await runMalt(['--version'])).stdout.trim(), JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
})
