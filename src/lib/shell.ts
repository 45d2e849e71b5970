/** Shell quoting for commands run on the hosts: the one copy (grep before writing another). */

/** Quote one word for a POSIX shell: `it's` -> `'it'\''s'`. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
