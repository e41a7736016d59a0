// Builds the malt-native addon (native/) with node-gyp when oneDNN's headers are present.
// Run by `npm install` (the package's install script) and by `npm run build:native`.
// Without oneDNN 2.x headers it explains what to install and exits 0: Malt then runs on the
// pure-JS CPU backend and says so once at run time. A failed compile is reported loudly; it fails
// the command only when the build was asked for (npm run build:native) or MALT_REQUIRE_NATIVE=1,
// so that installing Malt as a dependency never breaks a project's npm install.
//   --incremental   rebuild only what changed (keeps native/build), for kernel development
import { existsSync, readFileSync } from 'node:fs'
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

const requireBuild = process.env.npm_lifecycle_event === 'build:native' || process.env.MALT_REQUIRE_NATIVE === '1'
const installHint = 'On Debian/Ubuntu: apt-get install libdnnl-dev, then npm rebuild malt (or npm run build:native in a Malt checkout).'

/** Gives up on the native kernels: an error when the build was asked for, else a warning. */
function skip(reason) {
  const lines = [`malt: ${reason}`, 'malt: Malt will run on the slow pure-JS CPU backend.', `malt: ${installHint}`]
  if (requireBuild) {
    console.error(lines.join('\n'))
    process.exit(1)
  }
  console.warn(lines.join('\n'))
  process.exit(0)
}

// The compiler's default include paths: where Debian's libdnnl-dev puts the headers.
const versionHeader = ['/usr/include', '/usr/local/include']
  .map((dir) => join(dir, 'oneapi/dnnl/dnnl_version.h'))
  .find((path) => existsSync(path))
if (!versionHeader) skip('oneDNN headers not found (oneapi/dnnl/dnnl_version.h); the native kernels are not built.')
// The kernels use oneDNN 2.x's operation-descriptor API, which 3.x removed.
const major = /#define\s+DNNL_VERSION_MAJOR\s+(\d+)/.exec(readFileSync(versionHeader, 'utf8'))?.[1]
if (major !== '2') skip(`oneDNN ${major ?? '(unknown version)'} found at ${versionHeader}; the native kernels need oneDNN 2.x.`)

// npm runs install scripts with its own bundled node-gyp and names it in npm_config_node_gyp;
// `npx node-gyp` would try to download another copy, which fails offline.
function nodeGypCommand() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ].filter(Boolean)
  const found = candidates.find((path) => existsSync(path))
  if (!found) skip("node-gyp not found (looked at npm_config_node_gyp and npm's bundled copy).")
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
  if (result.status !== 0) skip(`building the native kernels failed (node-gyp ${step.join(' ')} exited ${result.status}; output above).`)
}
