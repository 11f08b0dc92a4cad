/**
 * leanAccept(server): a listening net.Server's connections made into sockets without the V8
 * garbage of Node's own accept path.
 *
 * Why: Node's accept (lib/net.js onconnection) builds a 7-key options object and net.Socket
 * copies it (`{ ...options }`) and adds emitClose, autoDestroy and decodeStrings to the copy. On
 * Node 20's V8 those additions to a spread copy get a fresh map per object (transitions from
 * the copy's map are not reused), so every accepted socket leaves two maps, their descriptor
 * arrays and ~20 megamorphic load handlers (the stream constructors reading its options) in
 * the old generation: ~1.3 KB per connection that only a full GC frees. With 10,000 idle
 * connections opened at once that was ~13 MB of resident garbage. Given an options object that
 * already holds every key the copy gets, the copy reuses one map and nothing is left behind.
 *
 * Only the common case is done here, as Node does it: errors, connections over
 * maxConnections and servers with keepAlive go to Node's own handler. Returns false (and
 * changes nothing) on a Node other than 20, whose accept path this copies, or when the
 * server's handle is not what this expects.
 */
import { channel } from 'node:diagnostics_channel';
import { Socket, type Server } from 'node:net';

/** Node publishes each accepted socket here; kept, for tools that subscribe. */
const serverSocketChannel = channel('net.server.socket');

type OnConnection = (this: unknown, err: number, clientHandle: unknown) => void;

/** The parts of net.Server that Node's accept path reads and writes. */
interface ServerInternals {
  _handle?: { onconnection?: OnConnection } | null;
  _connections: number;
  maxConnections: number;
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  highWaterMark: number;
}

/** The Node major whose accept path this copies (and whose V8 makes the garbage). */
const NODE_MAJOR = 20;

export function leanAccept(server: Server): boolean {
  // Another Node's accept path may do more (a block list, say): it is used as it is there.
  if (Number(process.versions.node.split('.')[0]) !== NODE_MAJOR) return false;
  const self = server as unknown as ServerInternals;
  const handle = self._handle;
  const nodeOnConnection = handle?.onconnection;
  if (handle == null || typeof nodeOnConnection !== 'function' || typeof self._connections !== 'number') return false;
  handle.onconnection = function onconnection(err, clientHandle) {
    if (err || self.keepAlive || (self.maxConnections && self._connections >= self.maxConnections)) {
      nodeOnConnection.call(this, err, clientHandle);
      return;
    }
    // The keys net.Socket adds to its copy are here already, with the values it sets.
    const socket = new Socket({
      handle: clientHandle,
      allowHalfOpen: Boolean(self.allowHalfOpen),
      pauseOnCreate: self.pauseOnConnect,
      readable: true,
      writable: true,
      readableHighWaterMark: self.highWaterMark,
      writableHighWaterMark: self.highWaterMark,
      emitClose: false,
      autoDestroy: true,
      decodeStrings: false,
    } as ConstructorParameters<typeof Socket>[0]);
    if (self.noDelay) socket.setNoDelay(true);
    self._connections++;
    // Node's socket teardown counts the connection off through these.
    (socket as unknown as { server: Server; _server: Server }).server = server;
    (socket as unknown as { _server: Server })._server = server;
    server.emit('connection', socket);
    if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
  };
  return true;
}
