/** The library API of policy-broker. */
export { createBroker, type Broker } from './broker.js';
export { BROKER_DEFAULTS, OptionError, resolveBrokerOptions, type BrokerOptions } from './options.js';
export { PolicyTable, type PolicyGroup, type PickResult } from './routing/policy-table.js';
export { Member, Endpoint, type MemberInfo, type MemberState, type Protocol } from './routing/member.js';
export type { RegistryStore, ServerEntry, StoreEvent } from './registry/store.js';
export { MemoryStore } from './registry/memory-store.js';
export { createStrategy, STRATEGY_NAMES, type SelectionStrategy, type StrategyName } from './routing/strategies/index.js';
export { ErrorCode, ProtocolError } from './protocol/error-codes.js';
export { decodePacket } from './protocol/validate.js';
export { FrameDecoder } from './protocol/frame-decoder.js';
export * from './protocol/packet-types.js';
export { createLogger, silentLogger, type Logger, type LogLevel, type LogFormat } from './support/logger.js';
export type { HttpFrontEnd } from './http/http-front-end.js';
export { HttpErrorCode, HTTP_ERROR_STATUS } from './http/http-errors.js';
export { loadServersFile, parseServersConf, ServersFileError, type StaticBackend } from './support/servers-file.js';
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
export { loadPlugins, PluginError } from './hooks/plugin.js';
export type { HookCounts } from './hooks/counters.js';
