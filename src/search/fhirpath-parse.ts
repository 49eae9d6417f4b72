// Lexer and parser for the FHIRPath subset that the official R5
// SearchParameter expressions use. Anything outside the subset fails here,
// when a search definition is loaded, rather than silently matching nothing
// at search time.
export class FhirPathError extends Error {
  constructor(message: string, readonly expression: string) {
    super(`FHIRPath '${expression}': ${message}`);
    this.name = 'FhirPathError';
  }
}

export type FunctionName =
  | 'where'
  | 'exists'
  | 'empty'
  | 'not'
  | 'first'
  | 'last'
  | 'count'
  | 'hasValue'
  | 'resolve'
  | 'ofType'
  | 'as'
  | 'is'
  | 'extension';

export type BinaryOperator = '|' | '=' | '!=' | 'and' | 'or' | 'xor' | 'implies';

export type PathNode =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'this' }
  | { kind: 'resource' }
  | { kind: 'member'; source?: PathNode; name: string }
  | { kind: 'call'; source?: PathNode; name: FunctionName; args: PathNode[]; typeName?: string }
  | { kind: 'index'; source: PathNode; index: number }
  | { kind: 'typeTest'; op: 'is' | 'as'; source: PathNode; typeName: string }
  | { kind: 'binary'; op: BinaryOperator; left: PathNode; right: PathNode };

/** Arity of each supported function; type-argument functions take a type name, not an expression. */
const FUNCTIONS: Record<FunctionName, { min: number; max: number; typeArg?: boolean }> = {
  where: { min: 1, max: 1 },
  exists: { min: 0, max: 1 },
  empty: { min: 0, max: 0 },
  not: { min: 0, max: 0 },
  first: { min: 0, max: 0 },
  last: { min: 0, max: 0 },
  count: { min: 0, max: 0 },
  hasValue: { min: 0, max: 0 },
  resolve: { min: 0, max: 0 },
  ofType: { min: 1, max: 1, typeArg: true },
  as: { min: 1, max: 1, typeArg: true },
  is: { min: 1, max: 1, typeArg: true },
  extension: { min: 1, max: 1 },
};

type Token =
  | { kind: 'id'; text: string; quoted: boolean }
  | { kind: 'string'; text: string }
  | { kind: 'number'; text: string }
  | { kind: 'var'; text: string }
  | { kind: 'sym'; text: string };

const SYMBOLS = ['!=', '<=', '>=', '!~', '.', '(', ')', ',', '|', '=', '[', ']', '<', '>', '~', '+', '-', '*', '/', '&', '{', '}'];
const STRING_ESCAPES: Record<string, string> = { "'": "'", '"': '"', '`': '`', '\\': '\\', '/': '/', f: '\f', n: '\n', r: '\r', t: '\t' };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (message: string): never => {
    throw new FhirPathError(`${message} at offset ${i}`, source);
  };
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '`') {
      let text = '';
      i++;
      while (i < source.length && source[i] !== c) {
        if (source[i] === '\\') {
          const next = source[i + 1] ?? '';
          if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(i + 2, i + 6))) {
            text += String.fromCharCode(parseInt(source.slice(i + 2, i + 6), 16));
            i += 6;
            continue;
          }
          if (!(next in STRING_ESCAPES)) fail(`invalid escape '\\${next}'`);
          text += STRING_ESCAPES[next];
          i += 2;
        } else {
          text += source[i++];
        }
      }
      if (i >= source.length) fail('unterminated literal');
      i++;
      tokens.push(c === "'" ? { kind: 'string', text } : { kind: 'id', text, quoted: true });
    } else if (/[0-9]/.test(c)) {
      const match = /^[0-9]+(\.[0-9]+)?/.exec(source.slice(i))!;
      tokens.push({ kind: 'number', text: match[0] });
      i += match[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))!;
      tokens.push({ kind: 'id', text: match[0], quoted: false });
      i += match[0].length;
    } else if (c === '$' || c === '%') {
      const match = /^[$%][A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
      if (!match) fail(`unexpected '${c}'`);
      tokens.push({ kind: 'var', text: match![0] });
      i += match![0].length;
    } else if (c === '@') {
      fail('date/time literals are not supported');
    } else {
      const symbol = SYMBOLS.find((s) => source.startsWith(s, i));
      if (symbol === undefined) fail(`unexpected character '${c}'`);
      tokens.push({ kind: 'sym', text: symbol! });
      i += symbol!.length;
    }
  }
  return tokens;
}

/** Recursive descent, one method per FHIRPath precedence level that the subset keeps. */
class Parser {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  parse(): PathNode {
    if (this.tokens.length === 0) this.fail('empty expression');
    const node = this.implies();
    const rest = this.peek();
    if (rest) this.fail(`unexpected '${rest.text}'`);
    return node;
  }

  private implies(): PathNode {
    let node = this.or();
    while (this.keyword('implies')) node = { kind: 'binary', op: 'implies', left: node, right: this.or() };
    return node;
  }

  private or(): PathNode {
    let node = this.and();
    for (;;) {
      if (this.keyword('or')) node = { kind: 'binary', op: 'or', left: node, right: this.and() };
      else if (this.keyword('xor')) node = { kind: 'binary', op: 'xor', left: node, right: this.and() };
      else return node;
    }
  }

  private and(): PathNode {
    let node = this.equality();
    while (this.keyword('and')) node = { kind: 'binary', op: 'and', left: node, right: this.equality() };
    return node;
  }

  private equality(): PathNode {
    let node = this.union();
    for (;;) {
      const next = this.peek();
      if (next?.kind === 'sym' && (next.text === '=' || next.text === '!=')) {
        this.position++;
        node = { kind: 'binary', op: next.text, left: node, right: this.union() };
      } else if (next?.kind === 'sym' && ['<', '>', '<=', '>=', '~', '!~'].includes(next.text)) {
        this.fail(`operator '${next.text}' is not supported`);
      } else if (next?.kind === 'id' && !next.quoted && (next.text === 'in' || next.text === 'contains')) {
        this.fail(`operator '${next.text}' is not supported`);
      } else {
        return node;
      }
    }
  }

  private union(): PathNode {
    let node = this.typeTest();
    while (this.symbol('|')) node = { kind: 'binary', op: '|', left: node, right: this.typeTest() };
    return node;
  }

  private typeTest(): PathNode {
    let node = this.postfix();
    for (;;) {
      const next = this.peek();
      if (next?.kind === 'sym' && ['+', '-', '*', '/', '&'].includes(next.text)) {
        this.fail(`operator '${next.text}' is not supported`);
      }
      if (this.keyword('is')) node = { kind: 'typeTest', op: 'is', source: node, typeName: this.typeName() };
      else if (this.keyword('as')) node = { kind: 'typeTest', op: 'as', source: node, typeName: this.typeName() };
      else return node;
    }
  }

  private postfix(): PathNode {
    let node = this.term();
    for (;;) {
      if (this.symbol('.')) {
        node = this.invocation(node);
      } else if (this.symbol('[')) {
        const index = this.next();
        if (index?.kind !== 'number' || index.text.includes('.')) this.fail('only integer literal indexes are supported');
        this.expect(']');
        node = { kind: 'index', source: node, index: Number(index!.text) };
      } else {
        return node;
      }
    }
  }

  private term(): PathNode {
    const token = this.peek();
    if (token === undefined) return this.fail('unexpected end of expression');
    if (token.kind === 'sym' && token.text === '(') {
      this.position++;
      const inner = this.implies();
      this.expect(')');
      return inner;
    }
    if (token.kind === 'sym' && token.text === '{') {
      this.position++;
      this.expect('}');
      return { kind: 'literal', value: null };
    }
    if (token.kind === 'string') {
      this.position++;
      return { kind: 'literal', value: token.text };
    }
    if (token.kind === 'number') {
      this.position++;
      return { kind: 'literal', value: Number(token.text) };
    }
    if (token.kind === 'var') {
      this.position++;
      if (token.text === '$this') return { kind: 'this' };
      if (token.text === '%resource' || token.text === '%rootResource' || token.text === '%context') return { kind: 'resource' };
      return this.fail(`variable '${token.text}' is not supported`);
    }
    if (token.kind === 'id' && !token.quoted && (token.text === 'true' || token.text === 'false')) {
      this.position++;
      return { kind: 'literal', value: token.text === 'true' };
    }
    if (token.kind === 'id') return this.invocation(undefined);
    return this.fail(`unexpected '${token.text}'`);
  }

  private invocation(source: PathNode | undefined): PathNode {
    const token = this.next();
    if (token?.kind !== 'id') return this.fail('expected a name');
    if (!this.symbol('(')) return { kind: 'member', source, name: token.text };
    if (!(token.text in FUNCTIONS)) this.fail(`function '${token.text}()' is not supported`);
    const name = token.text as FunctionName;
    const spec = FUNCTIONS[name];
    const args: PathNode[] = [];
    let typeName: string | undefined;
    if (!this.symbol(')')) {
      do {
        if (spec.typeArg) typeName = this.typeName();
        else args.push(this.implies());
      } while (this.symbol(','));
      this.expect(')');
    }
    const count = spec.typeArg ? (typeName === undefined ? 0 : 1) : args.length;
    if (count < spec.min || count > spec.max) this.fail(`wrong number of arguments to ${name}()`);
    return { kind: 'call', source, name, args, typeName };
  }

  private typeName(): string {
    const first = this.next();
    if (first?.kind !== 'id') return this.fail('expected a type name');
    let name = first.text;
    if (this.symbol('.')) {
      const second = this.next();
      if (second?.kind !== 'id') return this.fail('expected a type name');
      name = `${name}.${second.text}`;
    }
    return name;
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private next(): Token | undefined {
    return this.tokens[this.position++];
  }

  private symbol(text: string): boolean {
    const token = this.peek();
    if (token?.kind === 'sym' && token.text === text) {
      this.position++;
      return true;
    }
    return false;
  }

  private keyword(text: string): boolean {
    const token = this.peek();
    if (token?.kind === 'id' && !token.quoted && token.text === text) {
      this.position++;
      return true;
    }
    return false;
  }

  private expect(text: string): void {
    if (!this.symbol(text)) this.fail(`expected '${text}'`);
  }

  private fail(message: string): never {
    throw new FhirPathError(message, this.source);
  }
}

export function parseFhirPath(source: string): PathNode {
  return new Parser(tokenize(source), source).parse();
}
