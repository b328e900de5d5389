// One class per failure, each with a stable `code` that logs, counters
// (`reason` label) and the /apps "Last Error" column use. Messages quote the
// offending token; parse errors also carry the 1-based line number.

export class ProxyError extends Error {
  readonly code: string = 'E_PROXY';
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
  /** Short, stable reason for counter labels (`E_PARSE` -> `parse`). */
  get reason(): string {
    return this.code.slice(2).toLowerCase();
  }
}

/** Quote a token for an error message, bounded so hostile input cannot flood logs. */
export function quote(token: string, max = 60): string {
  const cut = token.length > max ? token.slice(0, max) + '…' : token;
  return JSON.stringify(cut);
}

/** Malformed exposition text. `line` is 1-based within the payload. */
export class ParseError extends ProxyError {
  override readonly code = 'E_PARSE';
  constructor(readonly line: number, detail: string) {
    super(`line ${line}: ${detail}`);
  }
}

/** A family's TYPE disagrees with the one another app (or the same payload) declared. */
export class TypeConflictError extends ProxyError {
  override readonly code = 'E_TYPE_CONFLICT';
}

/** The same series (name and label set) appears twice in one payload. */
export class DuplicateSeriesError extends ProxyError {
  override readonly code = 'E_DUPLICATE_SERIES';
}

/** A pushed family uses a name the proxy reserves for its own metrics. */
export class ReservedNameError extends ProxyError {
  override readonly code = 'E_RESERVED_NAME';
}

/** A payload, frame or body over the configured byte limit. */
export class TooLargeError extends ProxyError {
  override readonly code = 'E_TOO_LARGE';
}

/** A store limit (series per app, number of apps) would be exceeded. */
export class LimitError extends ProxyError {
  override readonly code = 'E_LIMIT';
}

/** Bytes on a socket that do not form a valid JSON object stream. */
export class JsonFramingError extends ProxyError {
  override readonly code = 'E_JSON';
}

/** Bytes on a socket that do not form a valid Cap'n Proto message stream. */
export class CapnpFramingError extends ProxyError {
  override readonly code = 'E_CAPNP';
}

/** An app name that is empty or not valid text. */
export class AppNameError extends ProxyError {
  override readonly code = 'E_APP_NAME';
}

/** A Pushgateway push path whose grouping key is malformed (missing job, odd components, bad label name, bad base64). */
export class GroupingKeyError extends ProxyError {
  override readonly code = 'E_GROUPING_KEY';
}

/** An HTTP body whose Content-Encoding is unsupported or cannot be decoded (corrupt gzip). */
export class ContentEncodingError extends ProxyError {
  override readonly code = 'E_CONTENT_ENCODING';
}

/** A connection that sent nothing for longer than the idle timeout. */
export class IdleTimeoutError extends ProxyError {
  override readonly code = 'E_IDLE_TIMEOUT';
}

/** A message (or HTTP request) that did not arrive completely within the read timeout: a slow or stalled sender. */
export class ReadTimeoutError extends ProxyError {
  override readonly code = 'E_READ_TIMEOUT';
}

/** A peer outside the allow-list (receiver.allowed_cidrs). */
export class AccessDeniedError extends ProxyError {
  override readonly code = 'E_ACCESS_DENIED';
}

/** An HTTP request without the credentials the route needs (http.scrape_auth, http.admin_auth). */
export class UnauthorizedError extends ProxyError {
  override readonly code = 'E_UNAUTHORIZED';
}

/** Configuration problems; `problems` holds one line per key. */
export class ConfigError extends ProxyError {
  override readonly code = 'E_CONFIG';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** A listener could not be opened (port in use, socket path not writable). */
export class ListenError extends ProxyError {
  override readonly code = 'E_LISTEN';
}

/**
 * A length-delimited protobuf body (io.prometheus.client.MetricFamily) that
 * cannot be decoded, or holds something the text format cannot represent.
 * `family` is the 1-based index of the delimited message in the body, `field`
 * names where in it the problem is (metric name and index when known, then the
 * protobuf field), `offset` is the byte offset in the body.
 */
export class ProtobufError extends ProxyError {
  override readonly code = 'E_PROTOBUF';
  constructor(
    readonly family: number,
    readonly field: string,
    readonly offset: number,
    detail: string,
  ) {
    super(`family ${family}, ${field}, byte ${offset}: ${detail}`);
  }
}

/** Why an outbound fetch (poll target, fan-out instance) failed; the `reason` counter label. */
export type FetchFailure = 'refused' | 'dns' | 'tls' | 'network' | 'timeout' | 'status' | 'too_large' | 'invalid' | 'aborted';

/**
 * An outbound HTTP fetch that produced no usable body. `reason` is the
 * failure class (not derived from `code`), `status` the HTTP status when one
 * was received.
 */
export class FetchError extends ProxyError {
  override readonly code = 'E_FETCH';
  constructor(
    private readonly failure: FetchFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
  override get reason(): FetchFailure {
    return this.failure;
  }
}

/** A fan-out group's instances could not be discovered (DNS, file_sd) and no earlier list exists. */
export class DiscoveryError extends ProxyError {
  override readonly code = 'E_DISCOVERY';
}

/** An HTTP request node's parser refused before any route saw it (not HTTP, a bad header line, a bad chunked body). */
export class BadRequestError extends ProxyError {
  override readonly code = 'E_BAD_REQUEST';
}

/** An HTTP request path that cannot be decoded (malformed percent-encoding). */
export class BadUrlError extends ProxyError {
  override readonly code = 'E_BAD_URL';
}

/** A ProxyError as it crosses a thread boundary (structured clone keeps no class). */
export interface WireError {
  code: string;
  message: string;
  /** ParseError's line. */
  line?: number;
}

export function errorToWire(err: ProxyError): WireError {
  return err instanceof ParseError ? { code: err.code, message: err.message, line: err.line } : { code: err.code, message: err.message };
}

/**
 * The errors parseLimited and prepareEntry raise besides ParseError, by code
 * (anything else comes back as a plain ProxyError with its message).
 */
const PAYLOAD_ERRORS: Record<string, new (message: string) => ProxyError> = {
  E_DUPLICATE_SERIES: DuplicateSeriesError,
  E_LIMIT: LimitError,
};

/** The error errorToWire described, as its own class again, with the same message. */
export function errorFromWire(w: WireError): ProxyError {
  if (w.code === 'E_PARSE' && w.line !== undefined) return new ParseError(w.line, w.message.replace(/^line \d+: /, ''));
  const Cls = PAYLOAD_ERRORS[w.code];
  return Cls ? new Cls(w.message) : new ProxyError(w.message);
}
