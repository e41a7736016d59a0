// The package version, read once from package.json (works from src/ under tsx and from dist/).
import { readFileSync } from 'node:fs'

let cached: string | undefined

export function packageVersion(): string {
  cached ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  return cached
}
