// fast-check arbitraries for fuzzing the FHIR write and search surface
// (test/integration/orders-fuzz.test.ts): random JSON, random FHIR-like
// resources and Bundles, raw bytes, random query strings, and mutations of
// the valid orders of ./orders.ts.
//
// Bodies are generated as compact descriptions (BodySpec) and only turned into
// bytes when sent, so that a counterexample with 40 000 levels of nesting or a
// 250 kB string still prints in one line.
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** What the arbitraries need to know about the server's data: existing ids. */
export interface FuzzContext {
  /** The sentinel Task (read before and after every request). */
  taskId: string;
  serviceRequestId: string;
  /** Patient.id of the sentinel Patient (Orthanc's id of its PatientID). */
  patientId: string;
}

// ---------------------------------------------------------------------------
// Scalars and strings

/** Strings that FHIR JSON, URL decoding or storage might trip on. */
export const NASTY_STRINGS: readonly string[] = [
  '', ' ', '\t\n', '\u0000', 'null', 'undefined', '[]', '{}', '"', '\\', '\\,', '\\|', '\\$', '%', '%zz', '%E0%A4',
  '\ud800', '\udfff\ud800', '\u202e', '\ufeff', 'é', 'e\u0301', '😀', '𝕏', '漢字', 'ä'.repeat(70), 'x'.repeat(65),
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', '<script>alert(1)</script>', "'; DROP TABLE versions; --",
  '../../etc/passwd', 'Patient/', 'Patient//x', 'urn:uuid:', 'urn:uuid:not-a-uuid', '#', '#contained', '*', '|', ',', '$',
];

export const fuzzString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 8, unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 8, unit: 'binary' }) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
);

const fuzzNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, -1, 1.5, 1e21, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 0.1 + 0.2),
);

export const scalar: fc.Arbitrary<Json> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 2, arbitrary: fuzzNumber },
  { weight: 4, arbitrary: fuzzString },
);

/** Element names of the resources written here, and a few that exist nowhere. */
export const FHIR_KEYS: readonly string[] = [
  'resourceType', 'id', 'meta', 'text', 'contained', 'extension', 'modifierExtension', 'identifier', 'status', '_status',
  'intent', 'subject', 'for', 'basedOn', 'code', 'concept', 'coding', 'system', 'value', 'display', 'type', 'reference',
  'authoredOn', 'occurrenceDateTime', 'requestedPeriod', 'start', 'owner', 'input', 'valueCodeableConcept', 'note',
  'name', 'family', 'given', 'gender', 'birthDate', 'entry', 'request', 'resource', 'fullUrl', 'method', 'url',
  'versionId', 'lastUpdated', 'priority', 'performer', 'url', 'valueString', 'foo', '', ' ', '__proto__', 'constructor',
];

export const fuzzKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FHIR_KEYS) },
  { weight: 1, arbitrary: fuzzString },
);

/** Random JSON: nested objects with FHIR-ish keys, arrays, unicode, numbers, nulls. */
export const fuzzJson: fc.Arbitrary<Json> = fc.letrec<{ node: Json }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fuzzKey, tie('node'), { maxKeys: 5 }) as fc.Arbitrary<Json>,
  ),
})).node;

export const RESOURCE_TYPES: readonly string[] = ['ServiceRequest', 'Task', 'Patient'];

const resourceTypeValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('ServiceRequest', 'Task', 'Patient') },
  { weight: 2, arbitrary: fc.constantFrom('Bundle', 'Observation', 'ImagingStudy', 'Endpoint', 'OperationOutcome', 'task', 'Task ', 'Foo', '') },
  { weight: 1, arbitrary: scalar },
);

/** An object that looks more or less like a resource: a resourceType (often right) and random elements. */
export const fuzzResource: fc.Arbitrary<Json> = fc
  .tuple(fc.option(resourceTypeValue, { nil: undefined }), fc.dictionary(fuzzKey, fuzzJson, { maxKeys: 6 }))
  .map(([resourceType, rest]) => (resourceType === undefined ? rest : { ...rest, resourceType }) as Json);

// ---------------------------------------------------------------------------
// URLs and query strings

/** Percent-sequences: valid, invalid, truncated UTF-8, an encoded surrogate, encoded separators. */
export const PERCENT: readonly string[] = [
  '%zz', '%', '%2', '%00', '%E0%A4', '%FF', '%C3%A9', '%ED%A0%80', '%F0%9F%98%80', '%2C', '%7C', '%25', '%26', '%3D',
  '%2F', '%5C', '%3A', '%24', '%20', '+', '%0A',
];

/** Lone surrogates replaced (encodeURIComponent throws on them). */
export function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** A text as it might appear in a URL: encoded, raw, or with a stray %-sequence inserted. */
function urlText(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(text, fc.constantFrom('encode', 'raw', 'mangle'), fc.constantFrom(...PERCENT), fc.nat())
    .map(([value, mode, percent, at]) => {
      if (mode === 'encode') return encodeURIComponent(wellFormed(value));
      if (mode === 'raw') return value;
      const i = value.length === 0 ? 0 : at % (value.length + 1);
      return value.slice(0, i) + percent + value.slice(i);
    });
}

export const SEARCH_PARAMS: readonly string[] = [
  '_id', '_lastUpdated', '_count', '_offset', '_sort', '_include', '_revinclude', '_summary', '_total', '_elements',
  '_format', '_pretty', '_since', '_has:Task:based-on:status', '_type', '_content', '_text', '_filter', 'identifier',
  'patient', 'subject', 'status', 'intent', 'code-concept', 'code', 'authored', 'authored-on', 'occurrence', 'requisition',
  'performer', 'based-on', 'focus', 'owner', 'modified', 'period', 'business-status', 'name', 'family', 'given',
  'birthdate', 'gender', 'modality', 'started', 'study', 'series', 'subject.name', 'patient.identifier', 'nonsense',
];

export const MODIFIERS: readonly string[] = [
  'missing', 'not', 'exact', 'contains', 'text', 'of-type', 'identifier', 'above', 'below', 'in', 'not-in', 'iterate',
  'Patient', 'ServiceRequest', 'Task', 'Group', 'bogus', '', 'MISSING',
];

const PREFIXES: readonly string[] = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx', 'Ge', 'e'];

const dateish: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '2030', '2030-06', '2030-06-01', '2030-06-01T09:30', '2030-06-01T09:30:00Z', '2030-06-01T09:30:00.123456+14:00',
    '2030-02-30', '2030-13-01', '0000', '9999-12-31T23:59:59.999Z', '2030-06-01T24:00', '2030-06-01T09:30:00-99:99',
    '1970-01-01T00:00:00', '20300601', 'today', '-2030',
  ),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
);

const paramValuePiece: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom(...PREFIXES), dateish).map(([prefix, date]) => prefix + date),
  fc.tuple(fc.constantFrom(...PREFIXES), fuzzNumber).map(([prefix, n]) => prefix + String(n)),
  fc.tuple(fc.option(fuzzString, { nil: undefined }), fuzzString, fc.option(fuzzString, { nil: undefined }))
    .map(([system, code, extra]) => [system, code, extra].filter((part) => part !== undefined).join('|')),
  fc.constantFrom(
    'active', 'requested', 'order', 'true', 'false', 'count', 'data', 'text', 'accurate', 'none', '-authored', 'authored,-status',
    'Task:based-on', 'ServiceRequest:subject', '*', 'Task:based-on:ServiceRequest', 'Patient/x', 'ServiceRequest/',
    'http://loinc.org|24627-2', 'urn:oid:2.25.42|A-1', 'urn:dicom:ae|CT01', '|', '||', 'a\\|b', 'a\\,b', 'a\\', 'json',
    'html', 'xml', 'text/html', 'application/fhir+json', 'constructor', '__proto__', '0', '-1', '1000000000', '1e3',
    'http://127.0.0.1/fhir/Patient/abc', 'https://other.example/fhir/Task/1/_history/2', 'urn:uuid:not-a-uuid',
  ),
  fuzzString,
);

const paramName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...SEARCH_PARAMS), fc.option(fc.constantFrom(...MODIFIERS), { nil: undefined }))
    .map(([name, modifier]) => (modifier === undefined ? name : `${name}:${modifier}`)) },
  { weight: 1, arbitrary: fuzzString },
);

const paramValue: fc.Arbitrary<string> = fc.array(paramValuePiece, { minLength: 1, maxLength: 3 }).map((pieces) => pieces.join(','));

/** A raw query string (no leading '?'): names, modifiers, prefixes, commas, pipes, escapes and %-encodings. */
export const queryString: fc.Arbitrary<string> = fc
  .array(fc.tuple(urlText(paramName), urlText(paramValue), fc.constantFrom('=', '=', '=', '', '==')), { maxLength: 5 })
  .map((pairs) => pairs.map(([name, value, equals]) => (equals === '' ? name : `${name}${equals}${value}`)).join('&'));

/** GET targets for search and history (paths below /fhir). */
export function searchPaths(context: FuzzContext): fc.Arbitrary<string> {
  return fc.constantFrom(
    '/ServiceRequest', '/Task', '/Patient', '/ImagingStudy', '/Endpoint', '/ServiceRequest/_history', '/Task/_history',
    `/Task/${context.taskId}/_history`, `/ServiceRequest/${context.serviceRequestId}/_history`, '/metadata',
  );
}

/** request.url of a Bundle entry. */
export function entryUrl(context: FuzzContext): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('Task', 'ServiceRequest', 'Patient', 'ImagingStudy', 'Endpoint', 'Observation') },
    { weight: 2, arbitrary: fc.constantFrom(
      `Task/${context.taskId}`, `ServiceRequest/${context.serviceRequestId}`, `Patient/${context.patientId}`, 'Task/fz-new',
      `Task/${context.taskId}/_history/1`, 'Task/_history', '/', '.', '..', 'metadata', '$everything', 'Task/_search',
      'Task/a%2Fb', 'Task/%zz', 'Task/%', 'Task/%E0%A4', 'Task/%ED%A0%80', 'Task/x/y/z/w', 'http://127.0.0.1:1/fhir/Task',
      'Task?', 'Task?status=active', 'Task?%zz=1', 'Task/?_count=0', '?', '/fhir/Task', 'task',
    ) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom('Task', 'ServiceRequest', 'Patient'), queryString).map(([type, query]) => `${type}?${query}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Task/', 'ServiceRequest/', 'Patient/', ''), urlText(fuzzString)).map(([a, b]) => a + b) },
  );
}

const METHODS: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
  { weight: 1, arbitrary: fc.constantFrom('PATCH', 'HEAD', 'get', 'post', '', 'OPTIONS') },
  { weight: 1, arbitrary: scalar },
);

const fullUrl: fc.Arbitrary<Json> = fc.oneof(
  fc.uuid().map((uuid) => `urn:uuid:${uuid}`),
  fc.constantFrom('urn:uuid:not-a-uuid', 'urn:uuid:', 'http://example.org/fhir/Task/1', 'Task/1', ''),
  scalar,
);

/** A random Bundle entry (sometimes not even an object). */
export function fuzzEntry(context: FuzzContext): fc.Arbitrary<Json> {
  const request = fc.record(
    {
      method: METHODS,
      url: fc.oneof({ weight: 5, arbitrary: entryUrl(context) }, { weight: 1, arbitrary: scalar }),
      ifMatch: fc.oneof(fc.constantFrom('W/"1"', '"1"', 'W/"999"', '*', 'W/""', 'garbage', 'W/"1'), scalar),
      ifNoneExist: fc.oneof(queryString, scalar),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.record(
      { fullUrl, request: fc.oneof({ weight: 5, arbitrary: request as fc.Arbitrary<Json> }, { weight: 1, arbitrary: fuzzJson }), resource: fuzzResource },
      { requiredKeys: [] },
    ) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: fuzzJson },
  );
}

/** A random batch or transaction Bundle (or something claiming to be one). */
export function fuzzBundle(context: FuzzContext): fc.Arbitrary<Json> {
  return fc.record(
    {
      resourceType: fc.oneof({ weight: 6, arbitrary: fc.constant('Bundle') }, { weight: 1, arbitrary: resourceTypeValue }),
      type: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom('batch', 'transaction') },
        { weight: 1, arbitrary: fc.constantFrom('searchset', 'history', 'document', 'Transaction', 'batch-response') },
        { weight: 1, arbitrary: scalar },
      ),
      entry: fc.oneof({ weight: 6, arbitrary: fc.array(fuzzEntry(context), { maxLength: 5 }) as fc.Arbitrary<Json> }, { weight: 1, arbitrary: fuzzJson }),
      id: fuzzString,
      extra: fuzzJson,
    },
    { requiredKeys: ['resourceType'] },
  ) as fc.Arbitrary<Json>;
}

// ---------------------------------------------------------------------------
// Bodies

export type BodySpec =
  /** JSON.stringify(value). */
  | { kind: 'json'; value: Json }
  /** A resource with an element nested `depth` levels deep, or such a resource inside a batch/transaction entry. */
  | { kind: 'deep'; depth: number; container: 'array' | 'object'; resourceType: string; place: 'body' | 'resource' | 'transaction' | 'batch' }
  /** A valid-looking resource with one string `length` characters long. */
  | { kind: 'huge'; length: number; resourceType: string; char: string }
  /** Raw text: truncated or broken JSON. */
  | { kind: 'text'; text: string }
  /** Raw bytes, possibly inside a JSON string (invalid UTF-8). */
  | { kind: 'bytes'; prefix: string; bytes: Uint8Array; suffix: string }
  | { kind: 'empty' };

/** The bytes of a body. */
export function bodyBytes(spec: BodySpec): string | Buffer {
  switch (spec.kind) {
    case 'json':
      return JSON.stringify(spec.value) ?? 'null';
    case 'deep': {
      const [open, close] = spec.container === 'array' ? ['[', ']'] : ['{"a":', '}'];
      const deep = `${open.repeat(spec.depth)}1${close.repeat(spec.depth)}`;
      const resource = `{"resourceType":${JSON.stringify(spec.resourceType)},"x":${deep}}`;
      if (spec.place === 'body') return deep;
      if (spec.place === 'resource') return resource;
      return `{"resourceType":"Bundle","type":"${spec.place}","entry":[{"request":{"method":"POST","url":${JSON.stringify(spec.resourceType)}},"resource":${resource}}]}`;
    }
    case 'huge':
      return JSON.stringify({ resourceType: spec.resourceType, status: 'requested', intent: 'order', note: [{ text: spec.char.repeat(spec.length) }] });
    case 'text':
      return spec.text;
    case 'bytes':
      return Buffer.concat([Buffer.from(spec.prefix, 'utf8'), Buffer.from(spec.bytes), Buffer.from(spec.suffix, 'utf8')]);
    case 'empty':
      return '';
  }
}

/** Deeply nested and oversized bodies (MaxBodySize is 200 000 bytes in the fuzz test). */
export const deepOrHugeBody: fc.Arbitrary<BodySpec> = fc.oneof(
  fc.record({
    kind: fc.constant('deep' as const),
    depth: fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 80, max: 40000 })),
    container: fc.constantFrom('array' as const, 'object' as const),
    resourceType: fc.constantFrom(...RESOURCE_TYPES),
    place: fc.constantFrom('body' as const, 'resource' as const, 'transaction' as const, 'batch' as const),
  }),
  fc.record({
    kind: fc.constant('huge' as const),
    length: fc.oneof(fc.integer({ min: 1000, max: 5000 }), fc.constantFrom(100000, 199000, 199950, 200001, 250000)),
    resourceType: fc.constantFrom(...RESOURCE_TYPES),
    char: fc.constantFrom('x', 'é', '😀', '\\', '"'),
  }),
);

/** Raw bytes, truncated JSON, invalid UTF-8, a BOM, trailing garbage. */
export function brokenBody(valid: readonly Json[]): fc.Arbitrary<BodySpec> {
  const validText = fc.constantFrom(...valid).map((value) => JSON.stringify(value));
  return fc.oneof(
    fc.record({ kind: fc.constant('bytes' as const), prefix: fc.constant(''), bytes: fc.uint8Array({ maxLength: 300 }), suffix: fc.constant('') }),
    fc.record({
      kind: fc.constant('bytes' as const),
      prefix: fc.constantFrom('{"resourceType":"Task","status":"', '{"resourceType":"ServiceRequest","', '{"resourceType":"Patient","name":[{"family":"'),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      suffix: fc.constantFrom('"}', '"}]}', '', '":1}'),
    }),
    fc.tuple(validText, fc.nat()).map(([text, at]): BodySpec => ({ kind: 'text', text: text.slice(0, at % text.length) })),
    fc.tuple(validText, fc.constantFrom('\ufeff', ' \n', '')).map(([text, prefix]): BodySpec => ({ kind: 'text', text: prefix + text })),
    fc.tuple(validText, fc.constantFrom('}', ']', ',', 'x', '\u0000', '{}', ' // comment', '\n{"a":1}')).map(([text, suffix]): BodySpec => ({ kind: 'text', text: text + suffix })),
    fc.tuple(validText, fc.nat(), fc.constantFrom('\'', '"', ':', ',', '{', ']', 'NaN', 'undefined', '\\', '\n'))
      .map(([text, at, insert]): BodySpec => {
        const i = at % (text.length + 1);
        return { kind: 'text', text: text.slice(0, i) + insert + text.slice(i) };
      }),
    fc.json({ maxDepth: 3 }).map((text): BodySpec => ({ kind: 'text', text })),
    fc.constantFrom<BodySpec>(
      { kind: 'empty' }, { kind: 'text', text: 'null' }, { kind: 'text', text: '"Task"' }, { kind: 'text', text: '1e999' },
      { kind: 'text', text: '{"resourceType":"Task","resourceType":"Patient"}' }, { kind: 'text', text: '{"__proto__":{"resourceType":"Task"}}' },
      { kind: 'text', text: '{"resourceType":"Task"' }, { kind: 'text', text: '\u0000' }, { kind: 'text', text: '{"resourceType":"Task","status":"\\ud800"}' },
    ),
  );
}

// ---------------------------------------------------------------------------
// Mutations of valid resources

/** Replacement values: wrong types, wrong codes, bad references, invalid ids, empty strings and arrays. */
export const badValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<Json>(
    null, '', ' ', [], {}, [null], [{}], [''], 0, -1, 1.5, 1e308, true, false, 'bogus', 'BOGUS code', ' active',
    'Patient/', 'urn:uuid:not-a-uuid', 'Patient/has space', 'ServiceRequest/x', 'Task/abc', '#contained',
    'http://example.org/fhir/Patient/1', 'Patient/' + 'a'.repeat(65), 'a'.repeat(65), 'bad id!', '2030-13-45',
    '2030-06-01T09:30:00', '2030-06-01T25:00:00Z', '\u0000', '\ud800', 'ä', '😀', 'x'.repeat(3000),
    { reference: 'Patient/' }, { reference: 'urn:uuid:not-a-uuid' }, { reference: 'Patient/x', type: 'Group' },
    { identifier: { value: 'x' } }, { reference: 'Task/x' }, { reference: '' }, { display: 'only a display' },
    { coding: [{ system: 'http://loinc.org', code: '' }] }, { coding: [] }, { text: '' }, [{ reference: 'ServiceRequest/' }],
  ) },
  // Valid codes: replacing a code with another valid one keeps the resource acceptable.
  { weight: 3, arbitrary: fc.constantFrom<Json>(
    'draft', 'active', 'on-hold', 'revoked', 'completed', 'entered-in-error', 'unknown', 'requested', 'accepted', 'received',
    'cancelled', 'in-progress', 'order', 'plan', 'proposal', 'original-order', 'male', 'female', 'other', 'routine', 'stat',
  ) },
  { weight: 2, arbitrary: fc.uuid().map((uuid): Json => `urn:uuid:${uuid}`) },
  { weight: 2, arbitrary: fuzzString },
  { weight: 2, arbitrary: fuzzJson },
);

export type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'addKey'; at: number; key: string; value: Json }
  | { kind: 'wrap'; at: number }
  | { kind: 'unwrap'; at: number }
  | { kind: 'duplicate'; at: number }
  /** A harmless change that keeps the resource valid most of the time: a new non-empty text. */
  | { kind: 'text'; at: number; text: string };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: badValue }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('addKey' as const), at: fc.nat(), key: fuzzKey, value: badValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('wrap' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unwrap' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({
    kind: fc.constant('text' as const),
    at: fc.nat(),
    text: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .:-]{0,20}[A-Za-z0-9]$/), fc.string({ minLength: 1, maxLength: 10, unit: 'grapheme' })),
  }) },
);

type Path = Array<string | number>;

/** Every location in a JSON document, root first, depth-first in key order. */
function locations(root: Json): Array<{ path: Path; value: Json }> {
  const found: Array<{ path: Path; value: Json }> = [];
  const visit = (value: Json, path: Path) => {
    found.push({ path, value });
    if (Array.isArray(value)) value.forEach((item, index) => visit(item, [...path, index]));
    else if (value !== null && typeof value === 'object') for (const key of Object.keys(value)) visit(value[key]!, [...path, key]);
  };
  visit(root, []);
  return found;
}

function parentOf(root: Json, path: Path): { parent: JsonObject | Json[]; key: string | number } {
  let parent = root as JsonObject | Json[];
  for (const segment of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[segment] as JsonObject | Json[];
  return { parent, key: path[path.length - 1]! };
}

function setAt(root: Json, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value === undefined ? {} : value;
  const { parent, key } = parentOf(root, path);
  if (Array.isArray(parent)) {
    if (value === undefined) parent.splice(key as number, 1);
    else parent[key as number] = value;
  } else if (value === undefined) {
    delete parent[key as string];
  } else {
    Object.defineProperty(parent, key as string, { value, enumerable: true, writable: true, configurable: true });
  }
  return root;
}

/** Applies the mutations in order to a copy of `document`; `at` picks a location modulo the candidates. */
export function mutate(document: Json, mutations: readonly Mutation[]): Json {
  let root = structuredClone(document);
  for (const m of mutations) {
    const all = locations(root);
    const nonRoot = all.filter((location) => location.path.length > 0);
    const pick = <T>(candidates: T[]): T | undefined => (candidates.length === 0 ? undefined : candidates[m.at % candidates.length]);
    switch (m.kind) {
      case 'delete': {
        const target = pick(nonRoot);
        if (target) root = setAt(root, target.path, undefined);
        break;
      }
      case 'replace': {
        const target = pick(nonRoot);
        if (target) root = setAt(root, target.path, structuredClone(m.value));
        break;
      }
      case 'addKey': {
        const target = pick(all.filter((location) => location.value !== null && typeof location.value === 'object' && !Array.isArray(location.value)));
        if (target) root = setAt(root, [...target.path, m.key], structuredClone(m.value));
        break;
      }
      case 'wrap': {
        const target = pick(nonRoot);
        if (target) root = setAt(root, target.path, [target.value]);
        break;
      }
      case 'unwrap': {
        const target = pick(nonRoot.filter((location) => Array.isArray(location.value)));
        if (target) root = setAt(root, target.path, (target.value as Json[])[0]);
        break;
      }
      case 'duplicate': {
        const target = pick(nonRoot.filter((location) => Array.isArray(location.value) && location.value.length > 0));
        if (target) root = setAt(root, target.path, [...(target.value as Json[]), structuredClone((target.value as Json[])[0]!)]);
        break;
      }
      case 'text': {
        const target = pick(nonRoot.filter((location) => typeof location.value === 'string'));
        if (target) root = setAt(root, target.path, m.text);
        break;
      }
    }
  }
  return root;
}

/** Request headers a client might send with a write: Prefer, If-Match, If-None-Exist (often none). */
export const writeHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.record(
    {
      prefer: fc.constantFrom('return=minimal', 'return=OperationOutcome', 'return=representation', 'handling=lenient', 'return=', 'respond-async'),
      'if-match': fc.constantFrom('W/"1"', '"1"', 'W/"2"', 'W/"999"', '*', 'W/""', 'garbage', 'W/"1', ''),
      'if-none-exist': fc.oneof(queryString, fc.constantFrom('identifier=urn:oid:2.25.42|FZ-NONE', 'identifier=FZ-NONE', '_id=x', 'status=active', '')),
    },
    { requiredKeys: [] },
  ) },
);
