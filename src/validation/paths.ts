// Locations in a resource: JSON pointer segments while validating, a
// FHIRPath-like expression in the OperationOutcome
// ('ServiceRequest.identifier[0].system').

/** The path of a value from the resource root: property names and array indexes. */
export type Path = ReadonlyArray<string | number>;

/** Segments of an ajv instancePath ('/identifier/0/system'); digits are array indexes (FHIR names never are). */
export function fromPointer(pointer: string): Path {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : segment));
}

/** 'ServiceRequest.identifier[0].system'; names that are not identifiers are quoted with backticks, as FHIRPath does. */
export function toExpression(resourceType: string, path: Path): string {
  let expression = resourceType;
  for (const segment of path) {
    if (typeof segment === 'number') expression += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) expression += `.${segment}`;
    else expression += `.\`${segment.replace(/[`\\]/g, (c) => `\\${c}`)}\``;
  }
  return expression;
}

/** True when `path` is `prefix` or lies under it. */
export function isWithin(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((segment, index) => path[index] === segment);
}

/** The value at `path` in `root`, undefined when there is none. */
export function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const segment of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

/** A short rendering of a value for diagnostics. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
