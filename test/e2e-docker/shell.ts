/**
 * Just enough shell parsing to find the `cairn` invocations in the e2e-docker
 * scripts and check them against the real CLI (compose.test.ts). It splits
 * text into simple commands (arrays of words): quotes respected, `$(…)` and
 * `<(…)` bodies parsed as commands of their own, comments, redirections and
 * here-document bodies dropped. Not a shell: it never expands anything, so a
 * word keeps its `$VAR` text.
 */

const OPERATORS = new Set([';', '&', '|', '(', ')', '\n'])
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'for', '!', '{', '}', 'time'])

/** The simple commands in `src`, in order of appearance (substitutions before the command holding them). */
export function shellCommands (src: string): string[][] {
  const out: string[][] = []
  parse(dropHeredocs(src), out)
  return out.filter(c => c.length > 0)
}

function dropHeredocs (src: string): string {
  const lines = src.split('\n')
  const kept: string[] = []
  let end: string | undefined
  for (const line of lines) {
    if (end !== undefined) { if (line.trim() === end) end = undefined; continue }
    kept.push(line)
    const m = /<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?/.exec(line.replace(/<<</g, ''))
    if (m !== null) end = m[1]
  }
  return kept.join('\n')
}

/** Index just past the `)` closing the `(` at `open`, skipping quoted text. */
function closeParen (s: string, open: number): number {
  let depth = 0
  for (let i = open; i < s.length; i++) {
    const c = s[i]
    if (c === '\\') { i++; continue }
    if (c === "'") { i = s.indexOf("'", i + 1); if (i < 0) return s.length; continue }
    if (c === '"') { i = closeQuote(s, i); continue }
    if (c === '(') depth++
    if (c === ')' && --depth === 0) return i + 1
  }
  return s.length
}

function closeQuote (s: string, open: number): number {
  for (let i = open + 1; i < s.length; i++) {
    if (s[i] === '\\') { i++; continue }
    if (s[i] === '$' && s[i + 1] === '(') { i = closeParen(s, i + 1) - 1; continue }
    if (s[i] === '"') return i
  }
  return s.length
}

function parse (s: string, out: string[][]): void {
  let cmd: string[] = []
  let word = ''
  let inWord = false
  let dropNext = false
  const endWord = (): void => {
    if (!inWord) return
    if (dropNext) dropNext = false
    else cmd.push(word)
    word = ''
    inWord = false
  }
  const endCmd = (): void => { endWord(); out.push(cmd); cmd = [] }
  const sub = (body: string): void => {
    const inner: string[][] = []
    parse(body, inner)
    out.push(...inner)
  }
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!
    if (c === '\\' && s[i + 1] === '\n') { i++; continue }
    if (c === '\\') { word += s[i + 1] ?? ''; inWord = true; i++; continue }
    if (c === "'") {
      const j = s.indexOf("'", i + 1)
      word += s.slice(i + 1, j < 0 ? s.length : j); inWord = true; i = j < 0 ? s.length : j; continue
    }
    if (c === '"') {
      const j = closeQuote(s, i)
      const body = s.slice(i + 1, j)
      for (let k = body.indexOf('$('); k >= 0; k = body.indexOf('$(', k + 2)) sub(body.slice(k + 2, closeParen(body, k + 1) - 1))
      word += body; inWord = true; i = j; continue
    }
    if ((c === '$' || c === '<') && s[i + 1] === '(') {
      const j = closeParen(s, i + 1)
      sub(s.slice(i + 2, j - 1))
      word += '$(…)'; inWord = true; i = j - 1; continue
    }
    if (c === '$' && s[i + 1] === '{') {
      const j = s.indexOf('}', i)
      word += s.slice(i, j < 0 ? s.length : j + 1); inWord = true; i = j < 0 ? s.length : j; continue
    }
    if (c === '#' && !inWord) { const j = s.indexOf('\n', i); i = (j < 0 ? s.length : j) - 1; continue }
    if (c === '>' || c === '<') {
      if (/^\d+$/.test(word)) { word = ''; inWord = false }
      endWord()
      while (s[i + 1] === '>' || s[i + 1] === '<' || s[i + 1] === '&') i++
      // `>&2` names a descriptor, not a file: it is part of the operator.
      if (/\d/.test(s[i + 1] ?? '') && s[i] === '&') { while (/\d/.test(s[i + 1] ?? '')) i++; continue }
      dropNext = true
      continue
    }
    if (OPERATORS.has(c)) { endCmd(); continue }
    if (c === ' ' || c === '\t') { endWord(); continue }
    word += c; inWord = true
  }
  endCmd()
}

/** Options of `docker compose` and of its exec/run that take a value. */
const COMPOSE_VALUE_OPTS = new Set(['-f', '--file', '-p', '--project-name', '--env-file', '--profile', '-u', '--user', '-w', '--workdir', '-e', '--env', '--index'])
const XARGS_VALUE_OPTS = new Set(['-P', '-I', '-n', '-L', '-d', '-s', '-E'])

/**
 * The arguments of the `cairn` call in one simple command, if it makes one:
 * `cairn …` or `…/bin/cairn …` in command position, also behind `exec`,
 * `env`, `xargs [opts]` and `docker compose [opts] exec|run [opts] <service>`
 * (or a `dc` function wrapping `docker compose`).
 */
export function cairnArgs (words: string[]): string[] | undefined {
  let i = 0
  const at = (): string => words[i] ?? ''
  const skipOpts = (valued: Set<string>): void => {
    while (at().startsWith('-')) i += valued.has(at()) ? 2 : 1
  }
  for (;;) {
    const w = at()
    if (w === '') return undefined
    if (KEYWORDS.has(w) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(w) || w === 'exec' || w === 'env' || w === 'command') { i++; continue }
    if (w === 'xargs') { i++; skipOpts(XARGS_VALUE_OPTS); continue }
    if (w === 'docker' || w === 'dc') {
      i++
      if (w === 'docker') { if (at() !== 'compose') return undefined; i++ }
      skipOpts(COMPOSE_VALUE_OPTS)
      if (at() !== 'exec' && at() !== 'run') return undefined
      i++
      skipOpts(COMPOSE_VALUE_OPTS)
      i++ // the service
      continue
    }
    if (w === 'cairn' || w.endsWith('/bin/cairn')) return words.slice(i + 1)
    return undefined
  }
}

/** Every cairn invocation in a script's text. */
export function cairnCalls (src: string): string[][] {
  return shellCommands(src).map(cairnArgs).filter((a): a is string[] => a !== undefined)
}
