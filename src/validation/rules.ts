// The rules the worklist needs beyond the schema (see
// ../shared/orders-interface.md): what a RIS must write for an imaging order
// to be usable. Each rule only looks at well-typed values; a value of the
// wrong JSON type is the schema's to report.
import type { Path } from './paths';
import type { Issue, ValidatedType } from './schema';

export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

export interface RuleOptions {
  /** When set, a Patient needs an identifier with this system (the PACS's PatientID namespace) and a value. */
  patientIdSystem?: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';
const objects = (value: unknown): Array<[number, Json]> =>
  Array.isArray(value) ? value.flatMap((item, index): Array<[number, Json]> => (isObject(item) ? [[index, item]] : [])) : [];

const ID = '[A-Za-z0-9\\-.]{1,64}';
const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const URN_UUID = new RegExp(`^urn:uuid:${UUID}$`);

/**
 * Why `reference` is not a literal reference to a `target` resource, or
 * undefined when it is one: 'Target/<id>', or 'urn:uuid:<uuid>' (the fullUrl
 * of an entry of the same transaction, resolved when it is processed).
 */
export function literalReferenceProblem(reference: Json, target: string): string | undefined {
  const expected = `a literal reference to a ${target} ('${target}/<id>', or 'urn:uuid:<uuid>' within a transaction)`;
  const literal = reference.reference;
  if (typeof literal !== 'string') {
    return reference.identifier !== undefined
      ? `Must be ${expected}: a logical reference by identifier alone is not resolved`
      : `Must be ${expected}`;
  }
  if (URN_UUID.test(literal)) {
    if (typeof reference.type === 'string' && reference.type !== target) {
      return `Must reference a ${target}, not a ${reference.type}`;
    }
    return undefined;
  }
  const match = new RegExp(`^([A-Z][A-Za-z]+)/(${ID})$`).exec(literal);
  if (!match) return `Must be ${expected}, not '${literal}'`;
  if (match[1] !== target) return `Must reference a ${target}, not a ${match[1]}`;
  if (typeof reference.type === 'string' && reference.type !== target) {
    return `The type '${reference.type}' contradicts the reference '${literal}'`;
  }
  return undefined;
}

class Checker {
  readonly issues: Issue[] = [];

  constructor(readonly resource: Json) {}

  required(path: Path, diagnostics: string): void {
    this.issues.push({ path, code: 'required', diagnostics });
  }

  rule(path: Path, diagnostics: string): void {
    this.issues.push({ path, code: 'business-rule', diagnostics });
  }

  /** A primitive element that must be present: its JSON type and code are the schema's business. */
  present(name: string, why: string): void {
    if (this.resource[name] === undefined) this.required([name], `The element '${name}' is required: ${why}`);
  }

  reference(name: string, target: string, why: string): void {
    const value = this.resource[name];
    if (value === undefined) {
      this.required([name], `The element '${name}' is required: ${why}`);
    } else if (isObject(value)) {
      const problem = literalReferenceProblem(value, target);
      if (problem) this.rule([name], problem);
    }
  }
}

function serviceRequestRules(check: Checker): void {
  const resource = check.resource;
  check.present('status', 'the worklist shows active orders only');
  check.present('intent', 'an order (intent order) is what the worklist schedules');
  check.reference('subject', 'Patient', 'the patient of the order');

  const code = resource.code;
  if (code === undefined) {
    check.required(['code'], "The element 'code' is required: the requested procedure, in code.concept");
  } else if (isObject(code)) {
    const concept = code.concept;
    if (concept === undefined) {
      check.required(['code', 'concept'], 'The requested procedure must be a code.concept (a CodeableConcept), with a coding or a text');
    } else if (isObject(concept)) {
      const coded = objects(concept.coding).some(([, coding]) => nonEmptyString(coding.code));
      if (!coded && !nonEmptyString(concept.text)) {
        check.rule(['code', 'concept'], 'The requested procedure needs a coding with a code, or a text');
      }
    }
  }

  const identifiers = resource.identifier;
  const accessions = objects(identifiers).filter(([, identifier]) =>
    isObject(identifier.type) && objects(identifier.type.coding).some(([, coding]) => coding.system === V2_0203 && coding.code === 'ACSN'),
  );
  if (accessions.length === 0) {
    if (identifiers === undefined || Array.isArray(identifiers)) {
      check.required(
        ['identifier'],
        `An accession number is required: an identifier whose type is ${V2_0203}#ACSN, with a value (and the issuer as its system)`,
      );
    }
  } else if (!accessions.some(([, identifier]) => nonEmptyString(identifier.value))) {
    for (const [index, identifier] of accessions) {
      if (identifier.value === undefined) check.required(['identifier', index, 'value'], 'The accession number identifier has no value');
    }
  }
}

function taskRules(check: Checker): void {
  const resource = check.resource;
  check.present('status', "the worklist shows the steps that wait (status 'requested')");
  check.present('intent', "a scheduled procedure step is a Task with intent 'order'");
  const basedOn = resource.basedOn;
  if (basedOn === undefined) {
    check.required(['basedOn'], "The element 'basedOn' is required: the ServiceRequest this step performs");
  } else if (Array.isArray(basedOn)) {
    const references = objects(basedOn);
    if (references.length > 0 && !references.some(([, reference]) => literalReferenceProblem(reference, 'ServiceRequest') === undefined)) {
      check.rule(
        ['basedOn'],
        "basedOn must include a literal reference to a ServiceRequest ('ServiceRequest/<id>', or 'urn:uuid:<uuid>' within a transaction)",
      );
    }
  }
  check.reference('for', 'Patient', 'the patient of the step');
}

function patientRules(check: Checker, options: RuleOptions): void {
  const identifiers = check.resource.identifier;
  if (identifiers !== undefined && !Array.isArray(identifiers)) return;
  const all = objects(identifiers);
  const system = options.patientIdSystem;
  const candidates = system === undefined ? all : all.filter(([, identifier]) => identifier.system === system);
  if (candidates.some(([, identifier]) => nonEmptyString(identifier.value))) return;
  if (candidates.length > 0) {
    for (const [index, identifier] of candidates) {
      if (identifier.value === undefined) check.required(['identifier', index, 'value'], 'The patient identifier has no value');
    }
    return;
  }
  check.required(
    ['identifier'],
    system === undefined
      ? 'A patient identifier with a value is required (it becomes the DICOM PatientID)'
      : `A patient identifier with the system ${system} and a value is required (it becomes the DICOM PatientID)`,
  );
}

/** The business rule issues of a resource of one of the validated types. */
export function ruleIssues(type: ValidatedType, resource: Json, options: RuleOptions): Issue[] {
  const check = new Checker(resource);
  if (type === 'ServiceRequest') serviceRequestRules(check);
  else if (type === 'Task') taskRules(check);
  else if (type === 'Patient') patientRules(check, options);
  // A Subscription's rules (its topic, filters, endpoint) are the Subscription module's: subscription-spec.ts.
  return check.issues;
}
