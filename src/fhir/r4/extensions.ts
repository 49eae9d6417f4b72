// The cross-version extensions, and the element maps built on them.
//
// R5 data with no R4 home goes into the official cross-version extension
// http://hl7.org/fhir/5.0/StructureDefinition/extension-<Resource>.<path>,
// its value typed as the R5 element (a complex extension with one
// sub-extension per child for a BackboneElement); R4 data with no R5 home
// into http://hl7.org/fhir/4.0/StructureDefinition/extension-<Resource>.<path>.
//
// An ElementMap describes one element of the source version: how its value
// projects onto elements of the other version (`project`) and back
// (`unproject`). Converting forward writes the projection and, only when
// the projection does not give the value back exactly, the extension with
// the whole source value (one extension per item of a repeating element).
// Converting backward takes the value from the extension when the extension
// still agrees with the projected elements (an R4 client may have edited
// them after reading and sent the stale extension back), else from the
// projected elements. So source -> other -> source is lossless, and
// other -> source -> other gives the other version's elements back as they
// were (project(unproject(x)) is x for each map).
import { type Json, asArray, deepEqual, isObject, objects, replaceKey } from './json';

export const R5_EXTENSION_BASE = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-';
export const R4_EXTENSION_BASE = 'http://hl7.org/fhir/4.0/StructureDefinition/extension-';

export type Version = 'R4' | 'R5';

/** The cross-version extension URL for an element of `version`, e.g. ('R5', 'ImagingStudy.partOf'). */
export function crossVersionUrl(version: Version, path: string): string {
  return `${version === 'R5' ? R5_EXTENSION_BASE : R4_EXTENSION_BASE}${path}`;
}

/** How one value item is written into an extension (the extension minus its url) and read back. */
export interface ExtensionCodec {
  encode(item: unknown): Json;
  /** undefined when the extension does not carry a value this codec reads. */
  decode(extension: Json): unknown;
}

/** A value[x] of one data type, e.g. typed('CodeableConcept') writes valueCodeableConcept. */
export function typed(type: string): ExtensionCodec {
  const key = `value${type}`;
  return {
    encode: (item) => ({ [key]: item }),
    decode: (extension) => extension[key],
  };
}

/** The children of an R5 CodeableReference, which R4 does not have as a type. */
export const CODEABLE_REFERENCE_CHILDREN: readonly ChildSpec[] = [
  { name: 'concept', type: 'CodeableConcept' },
  { name: 'reference', type: 'Reference' },
];

/** One child of a BackboneElement in a complex extension. */
export type ChildSpec =
  /** a data type, e.g. 'CodeableConcept' */
  | { name: string; type: string; repeats?: boolean }
  /** a choice element, e.g. name 'value' for value[x]: the sub-extension keeps the JSON key's type suffix */
  | { name: string; choice: true }
  /** a nested BackboneElement */
  | { name: string; children: readonly ChildSpec[]; repeats?: boolean };

/**
 * A BackboneElement as a complex extension: one sub-extension per child
 * value, its url the child's name (the cross-version convention).
 */
export function complex(children: readonly ChildSpec[]): ExtensionCodec {
  const encodeObject = (item: unknown, specs: readonly ChildSpec[]): Json[] => {
    if (!isObject(item)) return [];
    const result: Json[] = [];
    // Extensions of the element itself are kept as they are.
    for (const extension of objects(item.extension)) result.push(extension);
    for (const spec of specs) {
      if ('choice' in spec) {
        for (const [key, value] of Object.entries(item)) {
          if (key.startsWith(spec.name) && /^[A-Z]/.test(key.slice(spec.name.length))) {
            result.push({ url: spec.name, [`value${key.slice(spec.name.length)}`]: value });
          }
        }
        continue;
      }
      for (const value of asArray(item[spec.name])) {
        if ('children' in spec) result.push({ url: spec.name, extension: encodeObject(value, spec.children) });
        else result.push({ url: spec.name, [`value${spec.type}`]: value });
      }
    }
    return result;
  };
  const decodeObject = (extensions: Json[], specs: readonly ChildSpec[]): Json => {
    const result: Json = {};
    const own = extensions.filter((extension) => !specs.some((spec) => spec.name === extension.url));
    if (own.length > 0) result.extension = own;
    for (const spec of specs) {
      const parts = extensions.filter((extension) => extension.url === spec.name);
      if ('choice' in spec) {
        for (const part of parts) {
          for (const [key, value] of Object.entries(part)) {
            if (key.startsWith('value')) result[`${spec.name}${key.slice('value'.length)}`] = value;
          }
        }
        continue;
      }
      const values = parts.map((part) =>
        'children' in spec ? decodeObject(objects(part.extension), spec.children) : part[`value${spec.type}`],
      );
      if (values.length === 0) continue;
      result[spec.name] = spec.repeats ? values : values[0];
    }
    return result;
  };
  return {
    encode: (item) => ({ extension: encodeObject(item, children) }),
    decode: (extension) => (Array.isArray(extension.extension) ? decodeObject(objects(extension.extension), children) : undefined),
  };
}

/**
 * An R5 CodeableReference: R4 has no such type (an R4 extension cannot be
 * valueCodeableReference), so a complex extension with the sub-extensions
 * concept (valueCodeableConcept) and reference (valueReference).
 */
export const codeableReference: ExtensionCodec = complex(CODEABLE_REFERENCE_CHILDREN);

export interface ElementMap {
  /** The element's name in the source version (the JSON key). */
  element: string;
  /** The elements of the other version it projects onto (JSON keys, possibly none). */
  targets: readonly string[];
  /** Whether the source element repeats (then each item has its own extension). */
  repeats: boolean;
  codec: ExtensionCodec;
  /** The source value onto the target elements (keys of `targets`; undefined values for none). */
  project?(value: unknown): Json;
  /** The target elements back to a source value, undefined for none. */
  unproject?(targets: Json): unknown;
  /**
   * The target keys are elements of the source version too (e.g. a choice
   * value[x] whose R5-only type is written as another type in R4): going
   * backward they stay as they are unless the extension replaces them.
   */
  sharedTargets?: boolean;
  /** The element's name in the extension URL when not `element` (e.g. 'value' for value[x]). */
  urlName?: string;
}

/** An element with no home in the other version: extension only. */
export function extensionOnly(element: string, codec: ExtensionCodec, repeats: boolean): ElementMap {
  return { element, targets: [], repeats, codec };
}

function takeExtensions(
  object: Json,
  url: string,
  accept: (extension: Json) => boolean = () => true,
): { taken: Json[]; rest: Json } {
  const matches = (extension: unknown): extension is Json => isObject(extension) && extension.url === url && accept(extension);
  const taken = objects(object.extension).filter(matches);
  if (taken.length === 0) return { taken, rest: object };
  const kept = (Array.isArray(object.extension) ? object.extension : []).filter((extension: unknown) => !matches(extension));
  const rest: Json = { ...object };
  if (kept.length > 0) rest.extension = kept;
  else delete rest.extension;
  return { taken, rest };
}

function addExtensions(object: Json, extensions: Json[]): Json {
  if (extensions.length === 0) return object;
  return { ...object, extension: [...(Array.isArray(object.extension) ? object.extension : []), ...extensions] };
}

function pick(object: Json, keys: readonly string[]): Json {
  const result: Json = {};
  for (const key of keys) if (object[key] !== undefined) result[key] = object[key];
  return result;
}

/**
 * Source version -> other version for the maps of one object (a resource or
 * a BackboneElement at `path`, e.g. 'ImagingStudy.series'). The object is
 * not mutated; a new one is returned.
 */
export function mapForward(object: Json, path: string, maps: readonly ElementMap[], source: Version): Json {
  let result = object;
  const extensions: Json[] = [];
  for (const map of maps) {
    const value = object[map.element];
    if (value === undefined) continue;
    const projected = map.project ? map.project(value) : {};
    result = replaceKey(result, [map.element], map.sharedTargets ? projected : pick(projected, map.targets));
    const back = map.unproject ? map.unproject(projected) : undefined;
    if (!deepEqual(back, value)) {
      const url = crossVersionUrl(source, `${path}.${map.urlName ?? map.element}`);
      for (const item of map.repeats ? asArray(value) : [value]) extensions.push({ url, ...map.codec.encode(item) });
    }
  }
  return addExtensions(result, extensions);
}

/** The reverse of mapForward: other version -> source version. */
export function mapBackward(object: Json, path: string, maps: readonly ElementMap[], source: Version): Json {
  let result = object;
  for (const map of maps) {
    const url = crossVersionUrl(source, `${path}.${map.urlName ?? map.element}`);
    const { taken, rest } = takeExtensions(result, url, (extension) => map.codec.decode(extension) !== undefined);
    result = rest;
    const targets = pick(object, map.targets);
    let value: unknown;
    let fromExtension = false;
    if (taken.length > 0) {
      const items = taken.map((extension) => map.codec.decode(extension));
      {
        const candidate = map.repeats ? items : items[0];
        const projected = map.project ? map.project(candidate) : {};
        if (deepEqual(pick(projected, map.targets), targets)) {
          value = candidate;
          fromExtension = true;
        }
      }
    }
    if (map.sharedTargets && !fromExtension) continue;
    if (!fromExtension && map.unproject && Object.keys(targets).length > 0) value = map.unproject(targets);
    result = replaceKey(result, map.targets, value !== undefined ? { [map.element]: value } : {});
  }
  return result;
}

/**
 * A required code whose value is not in the other version's value set: the
 * other version gets `fallback`, and the primitive's own extension
 * (`_<element>`) the original code, valueCode.
 */
export function codeForward(
  object: Json,
  element: string,
  path: string,
  allowed: readonly string[],
  fallback: string,
  source: Version,
): Json {
  const value = object[element];
  if (typeof value !== 'string' || allowed.includes(value)) return object;
  const primitive = isObject(object[`_${element}`]) ? (object[`_${element}`] as Json) : {};
  return {
    ...object,
    [element]: fallback,
    [`_${element}`]: addExtensions(primitive, [{ url: crossVersionUrl(source, `${path}.${element}`), valueCode: value }]),
  };
}

/** The reverse of codeForward. */
export function codeBackward(object: Json, element: string, path: string, fallback: string, source: Version): Json {
  const primitive = object[`_${element}`];
  if (!isObject(primitive)) return object;
  const { taken, rest } = takeExtensions(primitive, crossVersionUrl(source, `${path}.${element}`));
  if (taken.length === 0) return object;
  const result: Json = { ...object };
  if (Object.keys(rest).length > 0) result[`_${element}`] = rest;
  else delete result[`_${element}`];
  const code = taken[0]?.valueCode;
  if (object[element] === fallback && typeof code === 'string') result[element] = code;
  return result;
}

/** Applies `convert` to each object of a list element (or the single object), keeping other values. */
export function mapItems(object: Json, element: string, convert: (item: Json) => Json): Json {
  const value = object[element];
  if (value === undefined) return object;
  if (Array.isArray(value)) return { ...object, [element]: value.map((item: unknown) => (isObject(item) ? convert(item) : item)) };
  return isObject(value) ? { ...object, [element]: convert(value) } : object;
}
