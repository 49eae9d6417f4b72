// The search parameter codes that differ between R4 (4.0.1) and R5 (5.0.0)
// for the types this server holds, from both versions' official search
// parameters:
//   ImagingStudy   basedon  -> based-on    (ImagingStudy.basedOn)
//   ImagingStudy   bodysite -> body-site   (ImagingStudy.series.bodySite[.concept])
//   ServiceRequest code     -> code-concept (ServiceRequest.code[.concept])
// R4-only codes with no R5 counterpart (ImagingStudy interpreter,
// ServiceRequest order-detail) and R5-only ones (ImagingStudy
// body-structure, ServiceRequest code-reference and body-structure, Task
// actor, output and requestedperformer-reference) keep their names:
// the server answers for them as it does in R5. Endpoint, Patient, Task and
// the common parameters (_id, _lastUpdated...) have the same codes.

type Pair = readonly [r4: string, r5: string];

const RENAMED: Readonly<Record<string, readonly Pair[]>> = {
  ImagingStudy: [
    ['basedon', 'based-on'],
    ['bodysite', 'body-site'],
  ],
  ServiceRequest: [['code', 'code-concept']],
};

/** The official definition URLs of the renamed parameters, R4 -> R5. */
const DEFINITIONS: readonly Pair[] = [
  ['http://hl7.org/fhir/SearchParameter/ImagingStudy-basedon', 'http://hl7.org/fhir/SearchParameter/ImagingStudy-based-on'],
  ['http://hl7.org/fhir/SearchParameter/ImagingStudy-bodysite', 'http://hl7.org/fhir/SearchParameter/ImagingStudy-body-site'],
  ['http://hl7.org/fhir/SearchParameter/clinical-code', 'http://hl7.org/fhir/SearchParameter/ServiceRequest-code-concept'],
];

const HELD_TYPES = ['Endpoint', 'ImagingStudy', 'Patient', 'ServiceRequest', 'Task'] as const;

/**
 * The types this server holds that an R5 reference parameter can point at
 * (from the official R5 targets), for chained names: each segment of a chain
 * is a code of the type the previous one points at.
 */
const REFERENCE_TARGETS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  ImagingStudy: {
    'based-on': ['ServiceRequest', 'Task'],
    endpoint: ['Endpoint'],
    patient: ['Patient'],
    performer: ['Patient'],
    subject: ['Patient'],
  },
  Patient: { link: ['Patient'] },
  ServiceRequest: {
    'based-on': ['ServiceRequest'],
    patient: ['Patient'],
    performer: ['Patient'],
    replaces: ['ServiceRequest'],
    requester: ['Patient'],
    subject: ['Patient'],
  },
  Task: {
    actor: ['Patient'],
    'based-on': HELD_TYPES,
    focus: HELD_TYPES,
    output: HELD_TYPES,
    owner: ['Patient'],
    'part-of': ['Task'],
    patient: ['Patient'],
    'requestedperformer-reference': ['Patient'],
    requester: ['Patient'],
    subject: HELD_TYPES,
  },
};

export type SearchVersion = 'R4' | 'R5';

function rename(types: readonly string[], code: string, to: SearchVersion): string {
  const found = new Set<string>();
  let kept = false;
  for (const type of types) {
    const pair = (RENAMED[type] ?? []).find(([r4, r5]) => (to === 'R5' ? r4 : r5) === code);
    if (pair) found.add(to === 'R5' ? pair[1] : pair[0]);
    else kept = true;
  }
  // Several types at once (a chain through Task.focus): rename only when
  // every one of them renames the code the same way.
  return found.size === 1 && !kept ? [...found][0]! : code;
}

/** The R5 code of an R4 search parameter code of `resourceType` (the same code when unchanged). */
export function searchNameFromR4(resourceType: string, code: string): string {
  return rename([resourceType], code, 'R5');
}

/** The R4 code of an R5 search parameter code of `resourceType` (the same code when unchanged). */
export function searchNameToR4(resourceType: string, code: string): string {
  return rename([resourceType], code, 'R4');
}

/** An official definition URL of a renamed parameter in the other version; others unchanged. */
export function searchDefinition(url: string, to: SearchVersion): string {
  const pair = DEFINITIONS.find(([r4, r5]) => (to === 'R5' ? r4 : r5) === url);
  return pair ? (to === 'R5' ? pair[1] : pair[0]) : url;
}

function r5Targets(types: readonly string[], r5Code: string): readonly string[] {
  const result = new Set<string>();
  for (const type of types) for (const target of REFERENCE_TARGETS[type]?.[r5Code] ?? []) result.add(target);
  return [...result];
}

/**
 * A parameter name: `code[:modifier]`, chains `a.b.c` (a `:Type` modifier
 * on a segment naming the type of the next), and reverse chains
 * `_has:Type:reference:name` (name being itself a parameter of Type).
 */
function renameParameter(types: readonly string[], name: string, to: SearchVersion): string {
  if (name.startsWith('_has:')) {
    const [, type, reference, ...rest] = name.split(':');
    if (type === undefined || reference === undefined || rest.length === 0) return name;
    return ['_has', type, rename([type], reference, to), renameParameter([type], rest.join(':'), to)].join(':');
  }
  const segments = name.split('.');
  let current = types;
  return segments
    .map((segment) => {
      const colon = segment.indexOf(':');
      const code = colon < 0 ? segment : segment.slice(0, colon);
      const modifier = colon < 0 ? '' : segment.slice(colon);
      const renamed = rename(current, code, to);
      const typeModifier = /^:([A-Z][A-Za-z]+)$/.exec(modifier)?.[1];
      const r5Code = to === 'R5' ? renamed : code;
      current = typeModifier ? [typeModifier] : r5Targets(current, r5Code);
      return `${renamed}${modifier}`;
    })
    .join('.');
}

/** `Source:param[:Target]` of _include/_revinclude; `*` and `Source:*` unchanged. */
function renameInclude(value: string, to: SearchVersion): string {
  const [source, code, ...rest] = value.split(':');
  if (source === undefined || code === undefined || code === '*') return value;
  return [source, rename([source], code, to), ...rest].join(':');
}

/** `_sort` values: a comma list of codes, each optionally prefixed by '-'. */
function renameSort(resourceType: string, value: string, to: SearchVersion): string {
  return value
    .split(',')
    .map((item) => {
      const descending = item.startsWith('-');
      const code = descending ? item.slice(1) : item;
      return `${descending ? '-' : ''}${renameParameter([resourceType], code, to)}`;
    })
    .join(',');
}

function renameQuery(resourceType: string, query: ReadonlyArray<readonly [string, string]>, to: SearchVersion): Array<[string, string]> {
  return query.map(([name, value]): [string, string] => {
    const base = name.split(':')[0];
    if (base === '_include' || base === '_revinclude') return [name, renameInclude(value, to)];
    if (name === '_sort') return [name, renameSort(resourceType, value, to)];
    if (name.startsWith('_') && !name.startsWith('_has:')) return [name, value];
    return [renameParameter([resourceType], name, to), value];
  });
}

/**
 * An R4 search query (decoded name/value pairs) of `resourceType` with the
 * R5 parameter codes, in names (modifiers, chains, _has) and in the values
 * of _include, _revinclude (also :iterate) and _sort.
 */
export function queryFromR4(resourceType: string, query: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  return renameQuery(resourceType, query, 'R5');
}

/** The reverse of queryFromR4, e.g. for the paging links of an R4 answer. */
export function queryToR4(resourceType: string, query: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  return renameQuery(resourceType, query, 'R4');
}

/**
 * A raw query string (`a=b&c=d`, no '?') renamed like queryFromR4 or
 * queryToR4; pairs that do not change keep their exact encoding.
 */
export function rewriteQueryString(resourceType: string, query: string, to: SearchVersion): string {
  if (query === '') return query;
  return query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const rawName = equals < 0 ? pair : pair.slice(0, equals);
      const rawValue = equals < 0 ? undefined : pair.slice(equals + 1);
      let name: string;
      let value: string;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
        value = rawValue === undefined ? '' : decodeURIComponent(rawValue.replace(/\+/g, ' '));
      } catch {
        return pair;
      }
      const [[newName, newValue]] = renameQuery(resourceType, [[name, value]], to) as [[string, string]];
      const outName = newName === name ? rawName : encodeURIComponent(newName).replace(/%3A/gi, ':');
      if (rawValue === undefined) return outName;
      const outValue = newValue === value ? rawValue : encodeURIComponent(newValue).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
      return `${outName}=${outValue}`;
    })
    .join('&');
}
