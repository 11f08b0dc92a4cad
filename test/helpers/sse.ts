/** A server-sent event stream read by a test: the events so far, parsed, until close(). */
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  data: any;
}

export interface SseStream {
  readonly status: number;
  readonly events: SseEvent[];
  close(): void;
}

/** Opens `url` (GET) and collects its events; resolves once the response head is in. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      const events: SseEvent[] = [];
      let buffered = '';
      res.setEncoding('utf8').on('data', (text: string) => {
        buffered += text;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) !== -1) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, events, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
