/** The library API of policy-broker. */
export { createBroker, type Broker } from './broker.js';
export { BROKER_DEFAULTS, OptionError, resolveBrokerOptions, type BrokerOptions } from './options.js';
export { Registry, type PolicyGroup, type PickResult } from './registry/registry.js';
export type { ServerRecord, ServerState } from './registry/server-record.js';
export { createStrategy, STRATEGY_NAMES, type SelectionStrategy, type StrategyName } from './routing/strategies/index.js';
export { ErrorCode, ProtocolError } from './protocol/error-codes.js';
export { decodePacket } from './protocol/validate.js';
export { FrameDecoder } from './protocol/frame-decoder.js';
export * from './protocol/packet-types.js';
export { createLogger, silentLogger, type Logger, type LogLevel, type LogFormat } from './support/logger.js';
export type { HttpFrontEnd } from './http/http-front-end.js';
export { HttpErrorCode, HTTP_ERROR_STATUS } from './http/http-errors.js';
export { loadServersFile, parseServersConf, ServersFileError, type StaticBackend } from './http/servers-file.js';
export { statusReport } from './admin/status.js';
export type {
  Interceptor,
  InterceptorMatch,
  BufferLimit,
  HttpRequestContext,
  HttpResponseContext,
  HttpRequestView,
  PacketContext,
  ReplyContext,
  ReplyView,
} from './hooks/interceptor.js';
export { HeaderList } from './hooks/header-list.js';
export { InterceptorError } from './hooks/check.js';
export type { HookCounts } from './hooks/counters.js';
