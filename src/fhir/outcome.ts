// One error model: every failure is an OperationOutcomeError carrying its HTTP
// status; toOutcome maps anything thrown to a status and an OperationOutcome,
// and anything unexpected is a 500, never a 4xx. The outcome served carries
// its generated narrative (toOutcome), made from its final issues.
import type { IssueSeverity, OperationOutcome, OperationOutcomeIssue } from './types';
import { escapeHtml } from './xhtml';

export class OperationOutcomeError extends Error {
  constructor(
    readonly status: number,
    readonly outcome: OperationOutcome,
    readonly headers: Record<string, string> = {},
  ) {
    super(outcome.issue.map((issue) => issue.diagnostics ?? issue.code).join('; '));
    this.name = 'OperationOutcomeError';
  }
}

export function outcome(
  code: string,
  diagnostics: string,
  options: { severity?: IssueSeverity; expression?: string[] } = {},
): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity: options.severity ?? 'error', code, diagnostics };
  if (options.expression && options.expression.length > 0) {
    issue.expression = options.expression;
  }
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

function fail(status: number, code: string, diagnostics: string, expression?: string[]): OperationOutcomeError {
  return new OperationOutcomeError(status, outcome(code, diagnostics, { expression }));
}

export const badRequest = (diagnostics: string, expression?: string[]) =>
  fail(400, 'invalid', diagnostics, expression);
export const notSupported = (diagnostics: string, expression?: string[]) =>
  fail(400, 'not-supported', diagnostics, expression);
export const notFound = (diagnostics: string) => fail(404, 'not-found', diagnostics);
export const gone = (diagnostics: string) => fail(410, 'deleted', diagnostics);
export const notAcceptable = (diagnostics: string) => fail(406, 'not-supported', diagnostics);
export const unsupportedMediaType = (diagnostics: string) => fail(415, 'not-supported', diagnostics);
export const conflict = (diagnostics: string) => fail(409, 'conflict', diagnostics);
export const preconditionFailed = (diagnostics: string) => fail(412, 'conflict', diagnostics);
export const unprocessable = (diagnostics: string, expression?: string[]) =>
  fail(422, 'processing', diagnostics, expression);
/** 400, as the orders issue asks (rather than HTTP's 413), with the code that says why. */
export const tooLarge = (diagnostics: string) => fail(400, 'too-long', diagnostics);

/** RFC 6750 challenge parameters are quoted strings: no quote or backslash inside. */
const quoted = (text: string) => `"${text.replace(/["\\]/g, "'")}"`;

/** 401: no credentials, or credentials refused (RFC 6750 section 3). */
export function unauthorized(diagnostics: string, challenge = `Bearer realm="orthanc-fhir", error="invalid_token", error_description=${quoted(diagnostics)}`): OperationOutcomeError {
  return new OperationOutcomeError(401, outcome('login', diagnostics), { 'www-authenticate': challenge });
}

/** 403: authenticated, but the token's scopes do not reach this (RFC 6750 insufficient_scope). */
export function forbidden(diagnostics: string, scope?: string): OperationOutcomeError {
  return new OperationOutcomeError(403, outcome('forbidden', diagnostics), {
    'www-authenticate': `Bearer realm="orthanc-fhir", error="insufficient_scope", error_description=${quoted(diagnostics)}${scope ? `, scope=${quoted(scope)}` : ''}`,
  });
}

/** 503 with Retry-After: the service will answer this once what it waits for is ready. */
export function unavailable(diagnostics: string, retryAfterSeconds = 10): OperationOutcomeError {
  return new OperationOutcomeError(503, outcome('transient', diagnostics), { 'retry-after': String(retryAfterSeconds) });
}

export function methodNotAllowed(diagnostics: string, allowed: string[]): OperationOutcomeError {
  return new OperationOutcomeError(405, outcome('not-supported', diagnostics), { allow: allowed.join(', ') });
}

/** Characters XML 1.0 holds in no form, not even as a character reference: left out of narratives. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/** Whatever narrativeText changes; most values hold none of it, and are given back as they are. */
const UNSAFE = /[&<>"'\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

/** A value from data as XHTML text: nothing in it can become markup. */
export function narrativeText(value: string): string {
  return UNSAFE.test(value) ? escapeHtml(value.replace(NOT_XML, '')) : value;
}

/**
 * The generated narrative of an OperationOutcome (R5 narrative.html): one
 * row per issue, its severity, code and diagnostics. Here rather than in
 * src/resources/narrative.ts because the error model sits below the resource
 * modules: every error the HTTP layer answers gets it through toOutcome.
 */
export function outcomeNarrative(issues: readonly OperationOutcomeIssue[]): { status: 'generated'; div: string } {
  const rows = issues.map((issue) => `<tr><td>${narrativeText(String(issue.severity))}</td><td>${narrativeText(String(issue.code))}</td>`
    + `<td>${narrativeText(issue.diagnostics ?? '')}</td></tr>`).join('');
  return {
    status: 'generated',
    div: '<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Operation outcome</b></p>'
      + `<table><thead><tr><th>Severity</th><th>Code</th><th>Details</th></tr></thead><tbody>${rows}</tbody></table></div>`,
  };
}

/** The outcome with its generated narrative, unless it has a text; a new object, never the one given changed. */
export function withOutcomeNarrative(outcome: OperationOutcome): OperationOutcome {
  if (outcome.text !== undefined || !Array.isArray(outcome.issue)) return outcome;
  const { resourceType, id, meta, ...rest } = outcome;
  return { resourceType, ...(id !== undefined ? { id } : {}), ...(meta !== undefined ? { meta } : {}), text: outcomeNarrative(outcome.issue), ...rest };
}

export interface MappedError {
  status: number;
  outcome: OperationOutcome;
  headers: Record<string, string>;
  /** True when the error was not raised on purpose: worth a log line. */
  unexpected: boolean;
}

/** What an error answers; its OperationOutcome with the narrative of its issues as they are now. */
export function toOutcome(error: unknown): MappedError {
  if (error instanceof OperationOutcomeError) {
    return { status: error.status, outcome: withOutcomeNarrative(error.outcome), headers: error.headers, unexpected: false };
  }
  return {
    status: 500,
    outcome: withOutcomeNarrative(outcome('exception', 'Internal error while processing the request', { severity: 'fatal' })),
    headers: {},
    unexpected: true,
  };
}
