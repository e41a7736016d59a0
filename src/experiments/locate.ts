// Finds the module that exports a training function, so that executor processes can import it
// without the user naming it: V8's inspector knows where a function was defined.
import { existsSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { isAbsolute, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MaltError, describeValue } from '../errors.js'
import type { FunctionRef } from './records.js'

/** Any function (the training function's own signature does not matter here). */
export type AnyFunction = (...args: never[]) => unknown

/** Where V8 says a function's code is. */
interface DefinitionSite {
  /** The script's URL as the module loader named it (may carry a query, e.g. tsx's namespace). */
  url: string
  /** 1-based line in the original source (through the source map when there is one). */
  line: number
  /** The original source file, when a source map names one. */
  file: string
}

/** URL search parameters that only mean something inside the driver process (tsx's `tsImport` namespace). */
const PROCESS_LOCAL_QUERY = ['tsx-namespace']

function toFileUrl(url: string): string {
  return isAbsolute(url) ? pathToFileURL(url).href : url
}

/** The module URL an executor should import: the same file, without driver-only query parameters. */
function portableUrl(url: string): string {
  const parsed = new URL(url)
  for (const key of PROCESS_LOCAL_QUERY) parsed.searchParams.delete(key)
  return parsed.href
}

function displayPath(url: string): string {
  try {
    const path = url.startsWith('file:') ? fileURLToPath(url.split('?')[0]) : url
    const shown = relative(process.cwd(), path)
    return shown.startsWith('..') ? path : shown
  } catch {
    return url
  }
}

/** Maps a generated position back to the original source (tsx emits one minified line plus an inline map). */
function originalPosition(scriptUrl: string, sourceMapUrl: string, line: number, column: number): { line: number; file?: string } {
  if (sourceMapUrl === '') return { line: line + 1 }
  try {
    let payload: SourceMapPayload
    if (sourceMapUrl.startsWith('data:')) {
      const comma = sourceMapUrl.indexOf(',')
      const body = sourceMapUrl.slice(comma + 1)
      const text = sourceMapUrl.slice(0, comma).endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body)
      payload = JSON.parse(text) as SourceMapPayload
    } else {
      payload = JSON.parse(readFileSync(fileURLToPath(new URL(sourceMapUrl, scriptUrl)), 'utf8')) as SourceMapPayload
    }
    const entry = new SourceMap(payload).findEntry(line, column) as { originalLine?: number; originalSource?: string }
    if (entry.originalLine === undefined) return { line: line + 1 }
    return { line: entry.originalLine + 1, file: entry.originalSource }
  } catch {
    return { line: line + 1 } // A broken map only costs the message its exact line.
  }
}

/** Asks V8 where `fn` was defined. The inspector session lives only for this call; the debugger is disabled again. */
async function definitionSite(fn: AnyFunction): Promise<DefinitionSite | undefined> {
  const session = new Session()
  session.connect()
  const key = `__maltLocate_${process.pid}_${Date.now()}_${Math.random().toString(36).slice(2)}`
  const scope = globalThis as Record<string, unknown>
  scope[key] = fn
  try {
    const { result } = await session.post('Runtime.evaluate', { expression: `globalThis[${JSON.stringify(key)}]` })
    if (result.objectId === undefined) return undefined
    const { internalProperties } = await session.post('Runtime.getProperties', { objectId: result.objectId, ownProperties: true })
    const location = internalProperties?.find((property) => property.name === '[[FunctionLocation]]')?.value?.value as
      | { scriptId: string; lineNumber: number; columnNumber: number }
      | undefined
    if (location === undefined) return undefined
    // Enabling the debugger replays one scriptParsed event per loaded script: the only way from a script id to its URL.
    let script: { url: string; sourceMapURL: string } | undefined
    session.on('Debugger.scriptParsed', ({ params }) => {
      if (params.scriptId === location.scriptId) script = { url: params.url, sourceMapURL: params.sourceMapURL ?? '' }
    })
    await session.post('Debugger.enable')
    await session.post('Debugger.disable')
    if (script === undefined || script.url === '') return undefined
    const url = toFileUrl(script.url)
    const original = originalPosition(url, script.sourceMapURL, location.lineNumber, location.columnNumber)
    return { url, line: original.line, file: displayPath(original.file ?? url) }
  } finally {
    delete scope[key]
    session.disconnect()
  }
}

/** The name under which `namespace` exports `fn`: a named export first, then `default` (or a CommonJS `module.exports.name`). */
function exportName(namespace: Record<string, unknown>, fn: AnyFunction): string | undefined {
  const names = Object.keys(namespace)
  const named = names.find((name) => name !== 'default' && namespace[name] === fn)
  if (named !== undefined) return named
  if (namespace.default === fn) return 'default'
  const commonJs = namespace.default
  if (typeof commonJs === 'object' && commonJs !== null) {
    return Object.keys(commonJs).find((name) => (commonJs as Record<string, unknown>)[name] === fn)
  }
  return undefined
}

function notExported(fn: AnyFunction, where: string): MaltError {
  const name = fn.name === '' ? 'the training function' : `the training function "${fn.name}"`
  const example = /^[A-Za-z_$][\w$]*$/.test(fn.name)
    ? `export async function ${fn.name}(params, ctx) { … }`
    : 'export default async function train(params, ctx) { … }'
  return new MaltError(
    'EXPERIMENT_FUNCTION_NOT_EXPORTED',
    `Cannot run ${name} (defined ${where}) on executors: it is not exported from a module. ` +
      `Executor processes import the training function from its module, so it must be a top-level export ` +
      `(e.g. \`${example}\`), not a closure, an inline arrow or a bound function; or pass { module, export } explicitly.`,
  )
}

/**
 * Finds the module and export name of an exported function, in this process: the module
 * instance that defined `fn` is imported again (no re-execution) and searched for `fn`.
 *
 * @example
 * import { train } from './train.js'
 * await locateFunction(train) // { module: 'file:///…/train.ts', export: 'train' }
 */
export async function locateFunction(fn: AnyFunction): Promise<FunctionRef> {
  if (typeof fn !== 'function') {
    throw new MaltError('EXPERIMENT_FUNCTION_INVALID', `Expected the training function; received ${describeValue(fn)}`)
  }
  const site = await definitionSite(fn)
  if (site === undefined) throw notExported(fn, 'outside any module file: a bound or built-in function, or code from eval or the REPL')
  const where = `at ${site.file}:${site.line}`
  if (!site.url.startsWith('file:')) throw notExported(fn, `${where}, which is not a file`)
  let namespace: Record<string, unknown> | undefined
  try {
    namespace = await importIfEvaluated(site.url)
  } catch (cause) {
    throw new MaltError('EXPERIMENT_FUNCTION_NOT_EXPORTED', `Cannot import ${site.url}, the module that defines ${fn.name || 'the training function'}`, { cause })
  }
  // Still evaluating: the module is the script calling us (its top-level await waits for this
  // search), so importing it would wait for ourselves. Its source says what it exports.
  const name = namespace !== undefined ? exportName(namespace, fn) : await exportedInSource(site.file, fn.name)
  if (name === undefined) throw notExported(fn, where)
  return { module: portableUrl(site.url), export: name }
}

/** How long an import of an already-loaded module may take before it counts as still evaluating. */
const EVALUATED_IMPORT_MS = 250

/** The module's namespace, or undefined when the module has not finished evaluating (a top-level await is pending). */
async function importIfEvaluated(url: string): Promise<Record<string, unknown> | undefined> {
  let timer: NodeJS.Timeout | undefined
  const pending = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), EVALUATED_IMPORT_MS)))
  try {
    return await Promise.race([import(url) as Promise<Record<string, unknown>>, pending])
  } finally {
    clearTimeout(timer)
  }
}

/** `name` when the module's source declares it as an export (`export function name`, `export { name }`, `export const name`). */
async function exportedInSource(file: string, name: string): Promise<string | undefined> {
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) return undefined
  const source = await readFile(file, 'utf8').catch(() => '')
  const declared = new RegExp(`export\\s+(?:async\\s+)?function\\s*\\*?\\s*${name.replace(/\$/g, '\\$')}\\b|export\\s+(?:const|let|var)\\s+${name.replace(/\$/g, '\\$')}\\b`)
  const listed = /export\s*\{([^}]*)\}/g
  if (declared.test(source)) return name
  for (const match of source.matchAll(listed)) {
    for (const part of match[1].split(',')) {
      const [local, exported] = part.trim().split(/\s+as\s+/)
      if (local === name) return exported?.trim() ?? name
    }
  }
  return undefined
}

function isFunctionRef(value: unknown): value is FunctionRef {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return typeof candidate.module === 'string' && typeof candidate.export === 'string'
}

/**
 * The training function's reference for executors: `locateFunction(fn)` for a function, or an
 * explicit `{ module, export }` (a `file:` URL or a path, resolved against the working directory).
 */
export async function resolveFunctionRef(fnOrRef: AnyFunction | FunctionRef): Promise<FunctionRef> {
  if (typeof fnOrRef === 'function') return locateFunction(fnOrRef)
  if (!isFunctionRef(fnOrRef) || fnOrRef.export === '' || fnOrRef.module === '') {
    throw new MaltError(
      'EXPERIMENT_FUNCTION_INVALID',
      `Expected an exported training function or { module, export } naming one; received ${describeValue(fnOrRef)}`,
    )
  }
  const module = fnOrRef.module.startsWith('file:') ? fnOrRef.module : pathToFileURL(resolve(fnOrRef.module)).href
  const path = fileURLToPath(module.split('?')[0])
  if (!existsSync(path)) {
    throw new MaltError('EXPERIMENT_FUNCTION_MODULE_MISSING', `The training function's module ${path} does not exist (from { module: ${describeValue(fnOrRef.module)} })`, {
      location: { file: path },
    })
  }
  return { module, export: fnOrRef.export }
}
