/**
 * The parts of a request line the front end decides on before proxying: the path to send
 * upstream (origin-form) and the policy the request asks for.
 */

/**
 * The origin-form path of a request target: "/…" as it is; "http://host/…" (absolute-form)
 * reduced to its path and query. undefined for anything else ("*", authority-form, garbage).
 */
export function originForm(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f /* / */) return target;
  if (!/^https?:\/\//i.test(target)) return undefined;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  return url.pathname + url.search;
}

/** The policy named by an X-Privacy-Policy header, the default without one, undefined when unreadable. */
export function requestPolicy(header: string | undefined, fallback: number): number | undefined {
  if (header === undefined) return fallback;
  const text = header.trim();
  if (!/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}
