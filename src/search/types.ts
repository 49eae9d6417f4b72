// The typed model of a search: a query is parsed once (parse.ts) into a
// SearchRequest, which matching (match.ts) and the searchset Bundle
// (bundle.ts) read without looking at the raw query again.
import type { OperationOutcomeIssue } from '../fhir/types';
import type { CompiledFhirPath } from './fhirpath';

/** The parameter types the engine evaluates (composite, quantity and special are not implemented). */
export type EngineParamType = 'date' | 'number' | 'reference' | 'string' | 'token' | 'uri';

/** A search parameter a resource type supports, with its FHIRPath compiled at load time. */
export interface ResolvedSearchParam {
  readonly code: string;
  readonly type: EngineParamType;
  readonly expression: CompiledFhirPath;
  /** Reference target types (empty when any, or not a reference). */
  readonly target: readonly string[];
  readonly url?: string;
  readonly description?: string;
  /** token: the system of the primitive (code) values, from their binding; absent when they have none. */
  readonly implicitSystem?: string;
  /** token: the same, per code, for a binding to a value set of several code systems. */
  readonly implicitSystemByCode?: Readonly<Record<string, string>>;
}

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/** A half-open instant range [low, high) in epoch milliseconds; infinite bounds for open Periods. */
export interface DateRange {
  readonly low: number;
  readonly high: number;
}

export interface DateValue {
  readonly prefix: Prefix;
  readonly range: DateRange;
}

export interface NumberValue {
  readonly prefix: Prefix;
  readonly value: number;
  /** The implicit range of the value's precision: 100 is [99.5, 100.5). */
  readonly low: number;
  readonly high: number;
}

/**
 * system undefined: any system ('code'); system '': no system ('|code');
 * code undefined: any code of that system ('system|').
 */
export interface TokenValue {
  readonly system?: string;
  readonly code?: string;
}

/** Identifier.type (system|code) plus Identifier.value, for :of-type. */
export interface OfTypeValue {
  readonly system: string;
  readonly code: string;
  readonly value: string;
}

/** 'Patient/1' -> {type, id}; '1' -> {id} (any allowed type); an external URL or canonical -> {url}. */
export interface ReferenceValue {
  readonly type?: string;
  readonly id?: string;
  readonly url?: string;
}

interface FilterBase {
  readonly param: ResolvedSearchParam;
  /** Name as sent, modifier included ('name:exact'), for the Bundle links. */
  readonly name: string;
  /** Value as sent (commas and escapes kept), for the Bundle links. */
  readonly rawValue: string;
}

/** One query parameter: all filters of a request must match (AND), any value of a filter (OR). */
export type SearchFilter =
  | (FilterBase & { readonly kind: 'missing'; readonly missing: boolean })
  | (FilterBase & { readonly kind: 'string'; readonly modifier?: 'exact' | 'contains'; readonly values: readonly string[] })
  | (FilterBase & { readonly kind: 'token'; readonly not: boolean; readonly values: readonly TokenValue[] })
  | (FilterBase & { readonly kind: 'token-text'; readonly values: readonly string[] })
  | (FilterBase & { readonly kind: 'token-of-type'; readonly values: readonly OfTypeValue[] })
  | (FilterBase & { readonly kind: 'date'; readonly values: readonly DateValue[] })
  | (FilterBase & { readonly kind: 'number'; readonly values: readonly NumberValue[] })
  | (FilterBase & { readonly kind: 'reference'; readonly values: readonly ReferenceValue[] })
  | (FilterBase & { readonly kind: 'reference-identifier'; readonly values: readonly TokenValue[] })
  | (FilterBase & { readonly kind: 'uri'; readonly values: readonly string[] })
  /**
   * A chained parameter ('patient.identifier=...', 'subject:Patient.name=...'):
   * `param` is this type's reference parameter; some resource it points to
   * matches the inner filter of its type (one per possible target type).
   */
  | (FilterBase & { readonly kind: 'chain'; readonly targets: readonly ChainTarget[] })
  /**
   * Reverse chaining ('_has:ImagingStudy:patient:modality=MR'): some resource
   * of `source` refers to this one through `param` (the source's reference
   * parameter) and matches `inner`.
   */
  | (FilterBase & { readonly kind: 'has'; readonly source: string; readonly inner: SearchFilter });

/** One target type of a chain and the filter its resources must match. */
export interface ChainTarget {
  readonly type: string;
  readonly filter: SearchFilter;
}

export interface SortRule {
  readonly param: ResolvedSearchParam;
  readonly descending: boolean;
}

export interface IncludeRule {
  /** Resource type holding the reference: this type for _include, the other type for _revinclude. */
  readonly source: string;
  readonly param: ResolvedSearchParam;
  readonly target?: string;
  /** As sent, for the Bundle links. */
  readonly raw: string;
  /** _include:iterate: applied to the included resources too, not only to the matches. */
  readonly iterate: boolean;
}

export type SummaryMode = 'true' | 'text' | 'count' | 'data' | 'false';
export type TotalMode = 'none' | 'estimate' | 'accurate';

export interface SearchRequest {
  readonly resourceType: string;
  readonly filters: readonly SearchFilter[];
  readonly sort: readonly SortRule[];
  readonly include: readonly IncludeRule[];
  readonly revInclude: readonly IncludeRule[];
  /** Page size, already capped; 0 asks for the total only. */
  readonly count: number;
  /** Paging cursor: index of the first match of the page in the sorted result. */
  readonly offset: number;
  readonly summary?: SummaryMode;
  readonly total?: TotalMode;
  /** _elements: names of top-level elements, bare (of the matches' type) or 'Type.element'. */
  readonly elements?: readonly string[];
  /** Warnings for what lenient handling ignored; the Bundle carries them in an outcome entry. */
  readonly warnings: readonly OperationOutcomeIssue[];
  /** Public base URL: absolute references to it compare equal to relative ones. */
  readonly baseUrl?: string;
  /** 'Now' in epoch ms, fixed at parse time, for the ap prefix. */
  readonly now: number;
}
