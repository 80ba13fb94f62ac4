import { ServiceError, type Reply, type ServiceProtocol } from './server.js';
import type { SigV4FailureReason, WireRequest } from './sigv4.js';

/** Escapes text for XML element content. */
export function xml(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

/** The parameters of a query-protocol request: URL query and form body, form-decoded. */
export function queryParams(req: WireRequest): Map<string, string> {
  const q = req.url.indexOf('?');
  const params = new Map<string, string>(q === -1 ? [] : new URLSearchParams(req.url.slice(q + 1)));
  for (const [k, v] of new URLSearchParams(req.body.toString('utf8'))) params.set(k, v);
  return params;
}

/** The query protocol (IAM, STS): form-encoded requests, XML answers in the API's namespace. */
export function queryProtocol(namespace: string, version: string, serverError: () => ServiceError): ServiceProtocol & {
  /** Wraps a `<ActionResult>` body in the response envelope with its RequestId. */
  result(action: string, inner: string, requestId: string): Reply;
} {
  return {
    action(req) {
      const params = queryParams(req);
      const action = params.get('Action');
      if (action === undefined) throw new ServiceError(400, 'MissingAction', 'Missing Action');
      if (params.get('Version') !== version) {
        throw new ServiceError(400, 'InvalidAction', `Could not find operation ${action} for version ${params.get('Version') ?? 'NO_VERSION_SPECIFIED'}`);
      }
      return action;
    },
    result(action, inner, requestId) {
      const body =
        `<${action}Response xmlns="${namespace}">\n  <${action}Result>${inner}</${action}Result>\n` +
        `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n</${action}Response>\n`;
      return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
    },
    errorReply(err, requestId) {
      const type = err.status >= 500 ? 'Receiver' : 'Sender';
      const body =
        `<ErrorResponse xmlns="${namespace}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${xml(err.code)}</Code>\n` +
        `    <Message>${xml(err.message)}</Message>\n  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`;
      return { status: err.status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
    },
    authError: (reason, message) => new ServiceError(reason === 'malformed' ? 400 : 403, QUERY_AUTH_CODES[reason], message),
    throttlingError: () => new ServiceError(400, 'Throttling', 'Rate exceeded'),
    serverError,
  };
}

const QUERY_AUTH_CODES: Record<SigV4FailureReason, string> = {
  missing: 'MissingAuthenticationToken',
  malformed: 'IncompleteSignature',
  'unknown-key': 'InvalidClientTokenId',
  'bad-token': 'InvalidClientTokenId',
  'expired-token': 'ExpiredToken',
  'wrong-scope': 'SignatureDoesNotMatch',
  expired: 'SignatureDoesNotMatch',
  mismatch: 'SignatureDoesNotMatch',
};

const JSON_AUTH_CODES: Record<SigV4FailureReason, string> = {
  missing: 'MissingAuthenticationTokenException',
  malformed: 'IncompleteSignatureException',
  'unknown-key': 'UnrecognizedClientException',
  'bad-token': 'UnrecognizedClientException',
  'expired-token': 'ExpiredTokenException',
  'wrong-scope': 'InvalidSignatureException',
  expired: 'InvalidSignatureException',
  mismatch: 'InvalidSignatureException',
};

/** The JSON 1.1 protocol (SSM): `X-Amz-Target: Prefix.Action`, errors as `{"__type", "message"}`. */
export function json11Protocol(targetPrefix: string): ServiceProtocol & { result(value: unknown, requestId: string): Reply } {
  const contentType = 'application/x-amz-json-1.1';
  return {
    action(req) {
      const target = req.headers['x-amz-target'];
      if (typeof target !== 'string' || !target.startsWith(`${targetPrefix}.`)) {
        throw new ServiceError(400, 'UnknownOperationException', '');
      }
      return target.slice(targetPrefix.length + 1);
    },
    result: (value, requestId) => ({ status: 200, headers: { 'content-type': contentType, 'x-amzn-requestid': requestId }, body: JSON.stringify(value) }),
    errorReply: (err, requestId) => ({
      status: err.status,
      headers: { 'content-type': contentType, 'x-amzn-requestid': requestId },
      body: JSON.stringify({ __type: err.code, message: err.message, ...err.fields }),
    }),
    authError: (reason, message) => new ServiceError(400, JSON_AUTH_CODES[reason], message),
    throttlingError: () => new ServiceError(400, 'ThrottlingException', 'Rate exceeded'),
    serverError: () => new ServiceError(500, 'InternalServerError', 'An internal error occurred. Try again.'),
  };
}

/** A REST-JSON route: method and a path pattern whose `{name}` segments become parameters. */
export interface RestRoute {
  action: string;
  method: string;
  path: string;
}

/** The REST-JSON protocol (EKS): actions by method and path, error code in `x-amzn-ErrorType`. */
export function restJsonProtocol(routes: readonly RestRoute[]): ServiceProtocol & {
  result(value: unknown, requestId: string): Reply;
  /** The decoded `{name}` path parameters of the route the request matched. */
  pathParams(req: WireRequest): Record<string, string>;
  /** The URL query (`?maxResults=…&nextToken=…`, repeated keys kept). */
  query(req: WireRequest): URLSearchParams;
  /** The JSON object a POST carries (`{}` for an empty body); 400 BadRequestException when it is not one. */
  body(req: WireRequest): Record<string, unknown>;
} {
  const compiled = routes.map((r) => ({
    ...r,
    names: [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? ''),
    re: new RegExp(`^${r.path.replace(/\{\w+\}/g, '([^/]+)')}$`),
  }));
  const match = (req: WireRequest) => {
    const path = req.url.split('?')[0] ?? '/';
    for (const r of compiled) {
      const m = r.re.exec(path);
      if (m !== null && r.method === req.method) {
        return { action: r.action, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1] ?? '')])) };
      }
    }
    throw new ServiceError(404, 'UnknownOperationException', `No operation matches ${req.method} ${path}`);
  };
  const headers = (requestId: string, code?: string): Record<string, string> => ({
    'content-type': 'application/json',
    'x-amzn-requestid': requestId,
    ...(code === undefined ? {} : { 'x-amzn-errortype': code }),
  });
  return {
    action: (req) => match(req).action,
    pathParams: (req) => match(req).params,
    query: (req) => new URLSearchParams(req.url.split('?')[1] ?? ''),
    body: (req) => {
      const text = req.body.toString('utf8');
      if (text.trim() === '') return {};
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new ServiceError(400, 'BadRequestException', 'Could not parse the request body as JSON.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ServiceError(400, 'BadRequestException', 'The request body must be a JSON object.');
      return parsed as Record<string, unknown>;
    },
    result: (value, requestId) => ({ status: 200, headers: headers(requestId), body: JSON.stringify(value) }),
    errorReply: (err, requestId) => ({ status: err.status, headers: headers(requestId, err.code), body: JSON.stringify({ message: err.message, ...err.fields }) }),
    authError: (reason, message) => new ServiceError(403, JSON_AUTH_CODES[reason], message),
    throttlingError: () => new ServiceError(429, 'ThrottlingException', 'Rate exceeded'),
    serverError: () => new ServiceError(500, 'ServerException', 'An internal error occurred. Try again.'),
  };
}
