// Unit test of which driver flags executor processes inherit (no process is started here).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { inheritedExecArgv } from './pool.js'

test('executors keep loaders and limits, and drop eval, test-runner, watch and inspector flags', () => {
  assert.deepEqual(inheritedExecArgv(['--import', 'tsx', '--max-old-space-size=512']), ['--import', 'tsx', '--max-old-space-size=512'])
  assert.deepEqual(
    inheritedExecArgv(['--require', '/x/preflight.cjs', '--inspect=9229', '-e', 'code()', '--test', '--test-reporter', 'spec', '--watch', '--enable-source-maps']),
    ['--require', '/x/preflight.cjs', '--enable-source-maps'],
  )
  assert.deepEqual(inheritedExecArgv(['--eval=code()', '--test-reporter=tap', '--inspect-brk', '--expose-gc']), ['--expose-gc'])
})
