// _summary and _elements (R5 search.html#_summary, #_elements): a copy of a
// resource with fewer top-level elements, tagged SUBSETTED. Which elements
// are "summary" and which are mandatory comes from the official
// StructureDefinitions (isSummary, min >= 1), generated into
// schemas/summary-elements.json; mandatory elements are always kept, as the
// spec asks. Pure: no I/O.
import summaryData from '../../schemas/summary-elements.json';
import { badRequest } from '../fhir/outcome';
import type { Coding, Resource } from '../fhir/types';
import type { SummaryMode } from './types';

interface TypeElements {
  readonly summary: readonly string[];
  readonly mandatory: readonly string[];
}

const R5_ELEMENTS = (summaryData as unknown as Record<string, Record<string, TypeElements>>)['5.0'] ?? {};

export const SUBSETTED: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** What a client asked to leave out. */
export interface SubsetRequest {
  readonly summary?: SummaryMode;
  /** _elements: bare names apply to `matchType`, 'Type.name' to that type. */
  readonly elements?: readonly string[];
}

/**
 * _summary and _elements of a read (http.html#read allows them there too);
 * undefined when neither is asked. A bad value is a 400.
 */
export function readSubset(query: ReadonlyArray<readonly [string, string]>): SubsetRequest | undefined {
  let summary: SummaryMode | undefined;
  let elements: string[] | undefined;
  for (const [name, value] of query) {
    if (name === '_summary') {
      if (!['true', 'text', 'data', 'false'].includes(value)) throw badRequest(`_summary of a read must be true, text, data or false (got '${value}')`, [name]);
      summary = value as SummaryMode;
    } else if (name === '_elements') {
      elements = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
      const bad = elements.find((e) => !/^[A-Za-z][A-Za-z0-9]*$/.test(e));
      if (bad !== undefined) throw badRequest(`_elements: '${bad}' is not an element name`, [name]);
    }
  }
  if (summary === undefined && elements === undefined) return undefined;
  return { ...(summary !== undefined ? { summary } : {}), ...(elements !== undefined ? { elements } : {}) };
}

/** Elements every subset keeps: they say what the resource is. */
const ALWAYS = ['resourceType', 'id', 'meta'];

/** The element names `request` keeps of a resource of `type` (undefined: all), as a match or included. */
function keptElements(type: string, request: SubsetRequest, matchType: string): ((key: string) => boolean) | undefined {
  const known = R5_ELEMENTS[type];
  const mandatory = new Set([...ALWAYS, ...(known?.mandatory ?? [])]);
  if (request.elements !== undefined) {
    const listed = request.elements.flatMap((element) => {
      const dot = element.indexOf('.');
      if (dot < 0) return type === matchType ? [element] : [];
      return element.slice(0, dot) === type ? [element.slice(dot + 1)] : [];
    });
    // Included resources of a type _elements does not name are given whole.
    if (listed.length === 0 && type !== matchType) return undefined;
    return (key) => mandatory.has(key) || listed.includes(key);
  }
  switch (request.summary) {
    case 'true': {
      const summary = new Set(known?.summary ?? []);
      return known ? (key) => mandatory.has(key) || summary.has(key) : undefined;
    }
    case 'text':
      return (key) => mandatory.has(key) || key === 'text';
    case 'data':
      return (key) => key !== 'text';
    default:
      return undefined;
  }
}

/** The resource as `request` asks for it: itself when nothing is left out, else a tagged copy. */
export function subset(resource: Resource, request: SubsetRequest, matchType = resource.resourceType): Resource {
  const keep = keptElements(resource.resourceType, request, matchType);
  if (keep === undefined) return resource;
  const meta = resource.meta ?? {};
  const tags = Array.isArray(meta.tag) ? (meta.tag as Coding[]) : [];
  const tagged = tags.some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code);
  const kept: Resource = { resourceType: resource.resourceType };
  if (resource.id !== undefined) kept.id = resource.id;
  kept.meta = { ...meta, tag: tagged ? tags : [...tags, SUBSETTED] };
  for (const [key, value] of Object.entries(resource)) {
    if (!ALWAYS.includes(key) && keep(key)) kept[key] = value;
  }
  return kept;
}
