// A fresh temporary directory for one test file, removed when its tests end, and a helper
// that writes a named file into it (the boilerplate the source tests shared).
import { after } from 'node:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A temporary directory and a way to put files into it. */
export interface TempDir {
  /** The directory's absolute path. */
  readonly path: string
  /** The absolute path of `name` inside the directory (nothing is written). */
  join(name: string): string
  /** Writes `content` to `name` inside the directory; returns the file's absolute path. */
  file(name: string, content: string | Uint8Array): string
}

/**
 * Creates `<os tmpdir>/malt-XXXXXX` now and registers an `after` hook that removes it; call it
 * once at the top of a test file.
 */
export function useTempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'malt-'))
  after(() => rmSync(path, { recursive: true, force: true }))
  return {
    path,
    join: (name) => join(path, name),
    file(name, content) {
      const target = join(path, name)
      writeFileSync(target, content)
      return target
    },
  }
}
