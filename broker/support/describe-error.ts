/**
 * The one way the programs describe an error in a message or a log field: a socket error as
 * people say it ("connection refused (ECONNREFUSED)" rather than "connect ECONNREFUSED
 * 127.0.0.1:2100"), any other error as its message, with its code in front when the message
 * does not already name it ("UND_ERR_SOCKET: other side closed").
 */

const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
};

/** A short description of `err`; anything that is not an Error is converted with String(). */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err.message;
  const said = SOCKET_ERRORS[code];
  if (said !== undefined) return `${said} (${code})`;
  return err.message.includes(code) ? err.message : `${code}: ${err.message}`;
}
