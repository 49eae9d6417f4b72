// A small FHIRPath evaluator over plain FHIR JSON, for the SearchParameter
// expressions of the official R5 definitions (see fhirpath-parse.ts for the
// supported subset). There is no structure-definition model: the FHIR type
// of a value is known only when the JSON says it (choice elements such as
// occurrenceDateTime, resources by resourceType) or from the JSON value
// itself (boolean, number, string). That is enough for the type tests the
// search expressions make, which are all on choice elements or resolve().
import type { Resource } from '../fhir/types';
import { FhirPathError, parseFhirPath, type PathNode } from './fhirpath-parse';
import { parseReference } from './reference';

export { FhirPathError } from './fhirpath-parse';

/** One value of a FHIRPath collection: a JSON value and its FHIR type when known. */
export interface FhirPathItem {
  readonly value: unknown;
  readonly type?: string;
}

export interface CompiledFhirPath {
  readonly expression: string;
  /** Evaluates against a resource; throws FhirPathError on a runtime error (e.g. a non-singleton boolean). */
  evaluate(resource: Resource): FhirPathItem[];
}

// Data types that may end a choice element's JSON name (value[x] -> valueDateTime).
const CHOICE_TYPES = new Set([
  'Base64Binary', 'Boolean', 'Canonical', 'Code', 'Date', 'DateTime', 'Decimal', 'Id', 'Instant', 'Integer',
  'Integer64', 'Markdown', 'Oid', 'PositiveInt', 'String', 'Time', 'UnsignedInt', 'Uri', 'Url', 'Uuid',
  'Address', 'Age', 'Annotation', 'Attachment', 'Availability', 'CodeableConcept', 'CodeableReference', 'Coding',
  'ContactDetail', 'ContactPoint', 'Count', 'DataRequirement', 'Distance', 'Dosage', 'Duration', 'Expression',
  'ExtendedContactDetail', 'HumanName', 'Identifier', 'Meta', 'Money', 'ParameterDefinition', 'Period', 'Quantity',
  'Range', 'Ratio', 'RatioRange', 'Reference', 'RelatedArtifact', 'SampledData', 'Signature', 'Timing',
  'TriggerDefinition', 'UsageContext',
]);

// Primitive types whose JSON form is a string; an untyped string may be any of them.
const STRING_TYPES = new Set(['string', 'code', 'id', 'uri', 'url', 'canonical', 'markdown', 'oid', 'uuid', 'base64Binary']);
const DATE_PATTERN = /^\d{4}(-\d{2}(-\d{2})?)?$/;
const DATE_TIME_PATTERN = /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const TIME_PATTERN = /^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

const SYSTEM_TYPES: Record<string, string> = {
  'System.String': 'string',
  'System.Boolean': 'boolean',
  'System.Integer': 'integer',
  'System.Decimal': 'decimal',
  'System.Date': 'date',
  'System.DateTime': 'dateTime',
  'System.Time': 'time',
};

interface Context {
  readonly root: Resource;
  readonly expression: string;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function items(value: unknown, type?: string): FhirPathItem[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.filter((v) => v !== undefined && v !== null).map((v) => ({ value: v, type }));
  return [{ value, type }];
}

function member(item: FhirPathItem, name: string): FhirPathItem[] {
  const value = item.value;
  if (!isObject(value)) return [];
  // A type name starting a path ('Patient.name', 'Resource.id') filters on the resource type.
  if (/^[A-Z]/.test(name) && typeof value.resourceType === 'string') {
    return isOfType(item, name) ? [item] : [];
  }
  if (Object.prototype.hasOwnProperty.call(value, name)) {
    const child = value[name];
    const childType = isObject(child) && typeof child.resourceType === 'string' ? child.resourceType : undefined;
    return items(child, childType);
  }
  // Choice element: 'deceased' is stored as deceasedBoolean or deceasedDateTime.
  const found: FhirPathItem[] = [];
  for (const key of Object.keys(value)) {
    if (key.length <= name.length || !key.startsWith(name)) continue;
    const suffix = key.slice(name.length);
    if (!CHOICE_TYPES.has(suffix)) continue;
    found.push(...items(value[key], choiceType(suffix)));
  }
  return found;
}

const PRIMITIVE_TYPES = new Set([...STRING_TYPES, 'boolean', 'date', 'dateTime', 'decimal', 'instant', 'integer', 'integer64', 'positiveInt', 'time', 'unsignedInt']);

/** The FHIR type named by a choice suffix: 'DateTime' -> 'dateTime' (primitives are lower camel case), 'Period' stays. */
function choiceType(suffix: string): string {
  const lowered = suffix[0]!.toLowerCase() + suffix.slice(1);
  return PRIMITIVE_TYPES.has(lowered) ? lowered : suffix;
}

function normalizeTypeName(name: string): string {
  if (name in SYSTEM_TYPES) return SYSTEM_TYPES[name]!;
  return name.startsWith('FHIR.') ? name.slice(5) : name;
}

/** FHIR type test without a model: known types compare by name, untyped values by their JSON shape. */
export function isOfType(item: FhirPathItem, typeName: string): boolean {
  const wanted = normalizeTypeName(typeName);
  const value = item.value;
  if (isObject(value) && typeof value.resourceType === 'string') {
    return value.resourceType === wanted || wanted === 'Resource' || wanted === 'DomainResource';
  }
  if (item.type !== undefined) {
    if (item.type === wanted) return true;
    // Specialisations of integer and string in the FHIR type hierarchy.
    if (wanted === 'integer') return item.type === 'positiveInt' || item.type === 'unsignedInt';
    if (wanted === 'string') return STRING_TYPES.has(item.type);
    if (wanted === 'uri') return ['url', 'canonical', 'oid', 'uuid'].includes(item.type);
    return false;
  }
  switch (typeof value) {
    case 'boolean':
      return wanted === 'boolean';
    case 'number':
      return wanted === 'decimal' || (Number.isInteger(value) && ['integer', 'positiveInt', 'unsignedInt', 'integer64'].includes(wanted));
    case 'string':
      if (STRING_TYPES.has(wanted)) return true;
      if (wanted === 'date') return DATE_PATTERN.test(value);
      if (wanted === 'dateTime' || wanted === 'instant') return DATE_TIME_PATTERN.test(value);
      if (wanted === 'time') return TIME_PATTERN.test(value);
      return false;
    default:
      return false;
  }
}

/** resolve(): a stub {resourceType, id} for RESTful references, the contained resource for '#id'. */
function resolve(item: FhirPathItem, context: Context): FhirPathItem[] {
  const value = item.value;
  const reference = isObject(value) ? value.reference : value;
  const declaredType = isObject(value) && typeof value.type === 'string' ? value.type : undefined;
  if (typeof reference === 'string' && reference.startsWith('#')) {
    const contained = items(context.root.contained).find((c) => isObject(c.value) && c.value.id === reference.slice(1));
    return contained && isObject(contained.value) ? [{ value: contained.value, type: String(contained.value.resourceType) }] : [];
  }
  const parsed = typeof reference === 'string' ? parseReference(reference) : undefined;
  const type = parsed?.type ?? declaredType;
  if (type === undefined) return [];
  return [{ value: { resourceType: type, id: parsed?.id }, type }];
}

/** '|' removes duplicates; elements are compared by identity, which is what a path into one resource yields twice. */
function union(left: FhirPathItem[], right: FhirPathItem[]): FhirPathItem[] {
  const result: FhirPathItem[] = [];
  for (const item of [...left, ...right]) if (!result.some((r) => r.value === item.value)) result.push(item);
  return result;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => deepEqual(a[k], b[k]));
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  return false;
}

/** FHIRPath '=': empty if either side is empty, otherwise item-wise equality. */
function equals(left: FhirPathItem[], right: FhirPathItem[]): boolean | undefined {
  if (left.length === 0 || right.length === 0) return undefined;
  return left.length === right.length && left.every((item, i) => deepEqual(item.value, right[i]!.value));
}

/** Singleton evaluation of collections to a boolean: empty is unknown, one non-boolean item is true. */
function toBoolean(collection: FhirPathItem[], context: Context): boolean | undefined {
  if (collection.length === 0) return undefined;
  if (collection.length > 1) throw new FhirPathError('a boolean was expected but the collection has several items', context.expression);
  const value = collection[0]!.value;
  return typeof value === 'boolean' ? value : true;
}

function booleanItems(value: boolean | undefined): FhirPathItem[] {
  return value === undefined ? [] : [{ value, type: 'boolean' }];
}

function logic(op: 'and' | 'or' | 'xor' | 'implies', a: boolean | undefined, b: boolean | undefined): boolean | undefined {
  switch (op) {
    case 'and':
      if (a === false || b === false) return false;
      return a === true && b === true ? true : undefined;
    case 'or':
      if (a === true || b === true) return true;
      return a === false && b === false ? false : undefined;
    case 'xor':
      return a === undefined || b === undefined ? undefined : a !== b;
    case 'implies':
      if (a === false || b === true) return true;
      return a === true && b === false ? false : undefined;
  }
}

function evaluate(node: PathNode, focus: FhirPathItem[], self: FhirPathItem[], context: Context): FhirPathItem[] {
  switch (node.kind) {
    case 'literal':
      return node.value === null ? [] : [{ value: node.value, type: typeof node.value === 'string' ? 'string' : undefined }];
    case 'this':
      return self;
    case 'resource':
      return [{ value: context.root, type: context.root.resourceType }];
    case 'member': {
      const input = node.source ? evaluate(node.source, focus, self, context) : focus;
      return input.flatMap((item) => member(item, node.name));
    }
    case 'index': {
      const item = evaluate(node.source, focus, self, context)[node.index];
      return item ? [item] : [];
    }
    case 'typeTest': {
      const input = evaluate(node.source, focus, self, context);
      if (node.op === 'as') return input.filter((item) => isOfType(item, node.typeName));
      if (input.length > 1) throw new FhirPathError("'is' needs a single item", context.expression);
      return input.length === 0 ? [] : booleanItems(isOfType(input[0]!, node.typeName));
    }
    case 'binary': {
      const left = evaluate(node.left, focus, self, context);
      const right = evaluate(node.right, focus, self, context);
      if (node.op === '|') return union(left, right);
      if (node.op === '=') return booleanItems(equals(left, right));
      if (node.op === '!=') {
        const equal = equals(left, right);
        return booleanItems(equal === undefined ? undefined : !equal);
      }
      return booleanItems(logic(node.op, toBoolean(left, context), toBoolean(right, context)));
    }
    case 'call':
      return call(node, node.source ? evaluate(node.source, focus, self, context) : focus, self, context);
  }
}

function call(node: Extract<PathNode, { kind: 'call' }>, input: FhirPathItem[], self: FhirPathItem[], context: Context): FhirPathItem[] {
  const typeName = node.typeName ?? '';
  const [argument] = node.args;
  // Criteria are evaluated once per input item, with that item as $this and as focus.
  const test = (item: FhirPathItem) => argument !== undefined && toBoolean(evaluate(argument, [item], [item], context), context) === true;
  switch (node.name) {
    case 'where':
      return input.filter(test);
    case 'exists':
      return booleanItems(argument === undefined ? input.length > 0 : input.some(test));
    case 'empty':
      return booleanItems(input.length === 0);
    case 'not': {
      const value = toBoolean(input, context);
      return booleanItems(value === undefined ? undefined : !value);
    }
    case 'first':
      return input.slice(0, 1);
    case 'last':
      return input.slice(-1);
    case 'count':
      return [{ value: input.length, type: 'integer' }];
    case 'hasValue':
      return booleanItems(input.length === 1 && !isObject(input[0]!.value));
    case 'resolve':
      return input.flatMap((item) => resolve(item, context));
    case 'ofType':
    case 'as':
      return input.filter((item) => isOfType(item, typeName));
    case 'is':
      if (input.length > 1) throw new FhirPathError("is() needs a single item", context.expression);
      return input.length === 0 ? [] : booleanItems(isOfType(input[0]!, typeName));
    case 'extension': {
      const urls = evaluate(argument!, [{ value: context.root }], self, context).map((item) => item.value);
      return input.flatMap((item) => member(item, 'extension')).filter((ext) => isObject(ext.value) && urls.includes(ext.value.url));
    }
  }
}

const cache = new Map<string, CompiledFhirPath>();

/** Parses once (throwing FhirPathError for anything outside the subset); the result is reusable and cached. */
export function compileFhirPath(expression: string): CompiledFhirPath {
  const cached = cache.get(expression);
  if (cached) return cached;
  const ast = parseFhirPath(expression);
  const compiled: CompiledFhirPath = {
    expression,
    evaluate(resource: Resource): FhirPathItem[] {
      const start = [{ value: resource, type: resource.resourceType }];
      return evaluate(ast, start, start, { root: resource, expression });
    },
  };
  cache.set(expression, compiled);
  return compiled;
}

/** Convenience for tests and one-off use: the plain JSON values of the result. */
export function evaluateFhirPath(expression: string, resource: Resource): unknown[] {
  return compileFhirPath(expression).evaluate(resource).map((item) => item.value);
}
