// Builds the malt-native addon (native/) with node-gyp when oneDNN's headers are present.
// Run by `npm install` (the package's install script) and by `npm run build:native`.
// Without libdnnl-dev it explains what to install and exits 0: Malt then runs on the pure-JS
// CPU backend and says so once at run time. A failed compile with the headers present is an error.
//   --incremental   rebuild only what changed (keeps native/build), for kernel development
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const nativeDir = join(root, 'native')
const incremental = process.argv.includes('--incremental')

if (process.env.MALT_SKIP_NATIVE === '1') {
  console.log('malt: MALT_SKIP_NATIVE=1, not building the native kernels')
  process.exit(0)
}

const headerDirs = [process.env.DNNL_INCLUDE_DIR, '/usr/include', '/usr/local/include'].filter(Boolean)
if (!headerDirs.some((dir) => existsSync(join(dir, 'oneapi/dnnl/dnnl.hpp')))) {
  console.warn(
    'malt: oneDNN headers not found (oneapi/dnnl/dnnl.hpp); the native kernels are not built and Malt will run\n' +
      'malt: on the slow pure-JS CPU backend. On Debian/Ubuntu: apt-get install libdnnl-dev, then npm rebuild malt\n' +
      'malt: (or npm run build:native in a Malt checkout).',
  )
  process.exit(0)
}

// npm runs install scripts with its own bundled node-gyp and names it in npm_config_node_gyp;
// `npx node-gyp` would try to download another copy, which fails offline.
function nodeGypCommand() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].filter(Boolean)
  const found = candidates.find((path) => existsSync(path))
  if (!found) {
    console.error('malt: node-gyp not found (looked at npm_config_node_gyp and npm\'s bundled copy)')
    process.exit(1)
  }
  return found
}

const nodeGyp = nodeGypCommand()
// Build against the headers of the running Node when it ships them (Debian, NodeSource, nvm do),
// so node-gyp never needs to download them; npm passes its own nodedir setting when it has one.
const nodePrefix = join(dirname(process.execPath), '..')
const nodeDirFlag =
  !process.env.npm_config_nodedir && existsSync(join(nodePrefix, 'include/node/node_api.h')) ? [`--nodedir=${nodePrefix}`] : []
const configured = existsSync(join(nativeDir, 'build/Makefile'))
const steps = incremental && configured ? [['build']] : [['rebuild']]
for (const step of steps) {
  const result = spawnSync(process.execPath, [nodeGyp, ...step, ...nodeDirFlag, '--jobs', 'max'], { cwd: nativeDir, stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`malt: building the native kernels failed (node-gyp ${step.join(' ')} exited ${result.status}).`)
    process.exit(result.status ?? 1)
  }
}
