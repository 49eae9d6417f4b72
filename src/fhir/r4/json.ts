// Plain JSON helpers for the R4 <-> R5 conversion: the converters work on
// untyped JSON objects (the R5 shapes of src/fhir/types.ts are deliberately
// partial), never mutating their input.

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => deepCopy(item)) as unknown as T;
  if (isObject(value)) {
    const result: Json = {};
    for (const [key, item] of Object.entries(value)) result[key] = deepCopy(item);
    return result as T;
  }
  return value;
}

/** Structural equality of JSON values; a key whose value is undefined counts as absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => deepEqual(item, b[index]));
  }
  if (isObject(a) && isObject(b)) {
    const keysA = Object.keys(a).filter((key) => a[key] !== undefined);
    const keysB = Object.keys(b).filter((key) => b[key] !== undefined);
    if (keysA.length !== keysB.length) return false;
    return keysA.every((key) => deepEqual(a[key], b[key]));
  }
  return false;
}

/** The value as a list: [] for undefined, [value] for a single value. */
export function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function objects(value: unknown): Json[] {
  return asArray(value).filter(isObject);
}

/** An object without its undefined values (which JSON would not carry anyway). */
export function compact(value: Json): Json {
  const result: Json = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) result[key] = item;
  return result;
}

/** undefined for an empty list, so that no empty array reaches the output. */
export function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/**
 * A copy of `object` where the key `replaced` (if present) is swapped for
 * `entries`, in its place, so the output keeps the element order of the input.
 * Entries whose value is undefined are left out; entries already present
 * elsewhere are moved.
 */
export function replaceKey(object: Json, replaced: readonly string[], entries: Json): Json {
  const result: Json = {};
  let inserted = false;
  const insert = () => {
    if (inserted) return;
    inserted = true;
    for (const [key, value] of Object.entries(entries)) if (value !== undefined) result[key] = value;
  };
  for (const [key, value] of Object.entries(object)) {
    if (replaced.includes(key)) {
      insert();
    } else if (!(key in entries)) {
      result[key] = value;
    }
  }
  insert();
  return result;
}
