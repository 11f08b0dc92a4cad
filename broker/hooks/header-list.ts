/**
 * Headers as hooks see them: a case-insensitive view over the proxy's flat header array
 * ([name, value, name, value, …]), keeping order and spelling of what it does not touch.
 */
export class HeaderList {
  /** The flat array; read it, do not keep it. */
  readonly raw: string[];

  constructor(raw: readonly string[] = []) {
    this.raw = raw.slice();
  }

  /** The values of `name` joined with ", " (cookies with "; "), or undefined. */
  get(name: string): string | undefined {
    const values = this.getAll(name);
    if (values.length === 0) return undefined;
    return values.join(name.toLowerCase() === 'cookie' ? '; ' : ', ');
  }

  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < this.raw.length; i += 2) if (this.raw[i]!.toLowerCase() === lower) out.push(this.raw[i + 1]!);
    return out;
  }

  has(name: string): boolean {
    const lower = name.toLowerCase();
    for (let i = 0; i < this.raw.length; i += 2) if (this.raw[i]!.toLowerCase() === lower) return true;
    return false;
  }

  /** Replaces every `name` header with one (or several) values. */
  set(name: string, value: string | number | readonly string[]): void {
    this.delete(name);
    this.append(name, value);
  }

  append(name: string, value: string | number | readonly string[]): void {
    checkName(name);
    const values = Array.isArray(value) ? value : [String(value)];
    for (const v of values) {
      checkValue(name, v);
      this.raw.push(name, v);
    }
  }

  /** Removes every `name` header; returns whether there was one. */
  delete(name: string): boolean {
    const lower = name.toLowerCase();
    let found = false;
    for (let i = this.raw.length - 2; i >= 0; i -= 2) {
      if (this.raw[i]!.toLowerCase() === lower) {
        this.raw.splice(i, 2);
        found = true;
      }
    }
    return found;
  }

  /** Lower-case names to values (several joined), for logging and tests. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (let i = 0; i < this.raw.length; i += 2) {
      const name = this.raw[i]!.toLowerCase();
      out[name] = out[name] === undefined ? this.raw[i + 1]! : `${out[name]}, ${this.raw[i + 1]!}`;
    }
    return out;
  }
}

/**
 * The first header of a flat array whose name or value may not go on the wire (a hook can
 * write `raw` directly, past set() and append()), as "name"; undefined when all may.
 */
export function firstInvalidHeader(raw: readonly unknown[]): string | undefined {
  if (raw.length % 2 !== 0) return '(an odd number of entries)';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (typeof name !== 'string' || !TOKEN.test(name)) return JSON.stringify(String(name));
    if (typeof value !== 'string' || !VALUE.test(value)) return JSON.stringify(name);
  }
  return undefined;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Field values: visible ASCII, obs-text, spaces and tabs; never CR, LF or NUL.
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function checkName(name: string): void {
  if (!TOKEN.test(name)) throw new TypeError(`invalid header name "${name}"`);
}

function checkValue(name: string, value: string): void {
  if (!VALUE.test(value)) throw new TypeError(`invalid value for header "${name}"`);
}
