// Backend selection: the first candidate that loads wins, every candidate's reason is kept,
// MALT_BACKEND forces one, and a candidate that fails to load never stops the others.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { selectBackend, tf } from './index.js'
import { candidates, type BackendCandidate } from './candidates.js'

const missing: BackendCandidate = {
  provider: 'not-installed-backend',
  backendName: 'nope',
  load: async () => ({ available: false, reason: 'not installed' }),
}
const broken: BackendCandidate = {
  provider: 'broken-backend',
  backendName: 'broken',
  load: async () => ({ available: false, reason: 'installed but failed to load: libfoo.so missing' }),
}
const cpu = candidates.find((candidate) => candidate.backendName === 'cpu')!

test('the first available candidate wins and the others say why not', async () => {
  const info = await selectBackend([missing, broken, cpu], undefined)
  assert.equal(info.name, 'cpu')
  assert.equal(tf.getBackend(), 'cpu')
  assert.deepEqual(
    info.tried.map((tried) => [tried.provider, tried.available, tried.reason]),
    [
      ['not-installed-backend', false, 'not installed'],
      ['broken-backend', false, 'installed but failed to load: libfoo.so missing'],
      ['@tensorflow/tfjs-backend-cpu', true, 'pure JavaScript, always available'],
    ],
  )
})

test('MALT_BACKEND forces a candidate; an unknown one is a clear error', async () => {
  const info = await selectBackend([missing, cpu], 'cpu')
  assert.equal(info.tried[0].reason, 'skipped: MALT_BACKEND=cpu')
  await assert.rejects(selectBackend([missing, cpu], 'webgpu'), /No TF.js backend could be initialised: .*skipped: MALT_BACKEND=webgpu/)
})

test('the real candidate list is tfjs-node, then native, then cpu', () => {
  assert.deepEqual(candidates.map((candidate) => candidate.backendName), ['tensorflow', 'malt-native', 'cpu'])
})

test('falling back to the CPU backend says once why and what fixes it; forcing it stays quiet', async () => {
  const unbuilt: BackendCandidate = {
    provider: 'malt-native (oneDNN)',
    backendName: 'malt-native-test',
    load: async () => ({ available: false, reason: 'addon not built', fix: 'apt-get install libdnnl-dev' }),
  }
  const warnings: string[] = []
  await selectBackend([unbuilt, cpu], undefined, (message) => warnings.push(message))
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /pure-JavaScript CPU backend.*malt-native \(oneDNN\): addon not built; to fix: apt-get install libdnnl-dev/)
  await selectBackend([unbuilt, cpu], 'cpu', (message) => warnings.push(message))
  assert.equal(warnings.length, 1)
})
