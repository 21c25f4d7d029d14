/**
 * The error catalogue against the code that throws. Product source (src/, tests excluded) is read
 * with the TypeScript compiler and its type checker, not with regular expressions, so a code in a
 * comment or a string of browser script does not count and a subclass that fixes or forwards its
 * code is followed to the code it really passes:
 *
 * - every `throw` (and every `reject(...)` / `Promise.reject(...)`) throws an OutpostError or a
 *   subclass of it, or passes on a value it caught or received unchanged (an identifier);
 * - the code of every OutpostError constructed (`new OutpostError('X', ...)`, or a subclass whose
 *   constructor fixes the code or forwards one of its parameters to `super`) is a literal, or a
 *   value typed as any catalogue code (a wrapper that re-raises a code it was given);
 * - every code constructed, and every `code: 'X'` written into a reply or a log line, is in ERRORS
 *   and documented in docs/ERRORS.md; every code in ERRORS is constructed somewhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { ERRORS } from './errors.js';

const SRC = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(SRC);
const CATALOGUE = new Set(Object.keys(ERRORS));

function productFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) productFiles(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Codes documented in ERRORS.md (a `### CODE` heading each), as errors.test.ts reads them. */
function documentedCodes(): Set<string> {
  const docs = readFileSync(join(ROOT, 'docs/ERRORS.md'), 'utf8');
  return new Set([...docs.matchAll(/^### ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1]!));
}

interface Scan {
  /** code → where an OutpostError with it is constructed. */
  constructed: Map<string, string[]>;
  /** code → where it is written as `code: 'X'` outside an OutpostError (replies, log lines). */
  written: Map<string, string[]>;
  /** Problems: plain errors thrown, codes that cannot be told, ... */
  problems: string[];
  /** How many throw statements and error constructions were looked at (so the scan cannot pass on nothing). */
  throwsSeen: number;
  constructionsSeen: number;
}

type CodeSource = { fixed: string[] } | { param: number };

function scan(): Scan {
  const files = productFiles(SRC);
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  assert.ok(config, 'tsconfig.json parsed');
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();

  const errorsSf = program.getSourceFile(join(SRC, 'errors.ts'));
  assert.ok(errorsSf, 'src/errors.ts in the program');
  const outpostDecl = errorsSf.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === 'OutpostError');
  assert.ok(outpostDecl, 'class OutpostError in src/errors.ts');
  const outpostSym = checker.getSymbolAtLocation(outpostDecl.name!)!;

  const result: Scan = { constructed: new Map(), written: new Map(), problems: [], throwsSeen: 0, constructionsSeen: 0 };
  const add = (m: Map<string, string[]>, code: string, where: string) => { const l = m.get(code) ?? []; l.push(where); m.set(code, l); };
  const where = (n: ts.Node) => {
    const sf = n.getSourceFile();
    return `${relative(ROOT, sf.fileName)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  };

  /** True for OutpostError and every class derived from it, through any number of levels. */
  function isFamilyType(t: ts.Type, depth = 0): boolean {
    if (depth > 20) return false;
    if (t.isUnion()) return t.types.every((u) => isFamilyType(u, depth + 1));
    const sym = t.getSymbol();
    if (sym === outpostSym) return true;
    if (!t.isClassOrInterface()) return false;
    return (checker.getBaseTypes(t) ?? []).some((b) => isFamilyType(b, depth + 1));
  }

  const classOf = (t: ts.Type): ts.ClassDeclaration | undefined =>
    t.getSymbol()?.getDeclarations()?.find((d): d is ts.ClassDeclaration => ts.isClassDeclaration(d));

  function literalCode(e: ts.Expression): string | undefined {
    return ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e) ? e.text : undefined;
  }

  const sources = new Map<ts.ClassDeclaration, CodeSource>();
  /** Where a class's code comes from: fixed by its constructor, or one of its parameters. */
  function codeSource(decl: ts.ClassDeclaration): CodeSource {
    const known = sources.get(decl);
    if (known) return known;
    let src: CodeSource;
    if (decl === outpostDecl) {
      src = { param: 0 };
    } else {
      const baseExpr = decl.heritageClauses?.find((h) => h.token === ts.SyntaxKind.ExtendsKeyword)?.types[0]?.expression;
      const baseDecl = baseExpr && classOf(checker.getTypeAtLocation(baseExpr));
      if (!baseDecl) throw new Error(`${where(decl)}: base class of ${decl.name?.text} not found`);
      const parent = codeSource(baseDecl);
      const ctor = decl.members.find((m): m is ts.ConstructorDeclaration => ts.isConstructorDeclaration(m) && m.body !== undefined);
      if (!ctor) {
        src = parent; // the implicit constructor passes every argument on
      } else if ('fixed' in parent) {
        src = parent;
      } else {
        let superCall: ts.CallExpression | undefined;
        const find = (n: ts.Node): void => {
          if (superCall) return;
          if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.SuperKeyword) superCall = n;
          else ts.forEachChild(n, find);
        };
        find(ctor.body!);
        const arg = superCall?.arguments[parent.param];
        const lit = arg && literalCode(arg);
        const paramIndex = arg && ts.isIdentifier(arg) ? ctor.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === arg.text) : -1;
        if (lit !== undefined) src = { fixed: [lit] };
        else if (paramIndex >= 0) src = { param: paramIndex };
        else throw new Error(`${where(ctor)}: ${decl.name?.text} passes a code to super() that is neither a literal nor a constructor parameter`);
      }
    }
    sources.set(decl, src);
    return src;
  }

  /** Codes an argument may hold: a literal, or the literal types of its declared type. */
  function codesOfArgument(arg: ts.Expression): string[] | 'any-code' | undefined {
    const lit = literalCode(arg);
    if (lit !== undefined) return [lit];
    const t = checker.getTypeAtLocation(arg);
    const parts = t.isUnion() ? t.types : [t];
    if (!parts.every((p) => p.isStringLiteral())) return undefined;
    const codes = parts.map((p) => (p as ts.StringLiteralType).value);
    // Typed as the whole catalogue: a wrapper re-raising a code it was handed, adding none.
    if (codes.length === CATALOGUE.size && codes.every((c) => CATALOGUE.has(c))) return 'any-code';
    return undefined;
  }

  function checkConstruction(n: ts.NewExpression): void {
    const decl = classOf(checker.getTypeAtLocation(n));
    if (!decl || !isFamilyType(checker.getTypeAtLocation(n))) return;
    result.constructionsSeen++;
    const src = codeSource(decl);
    if ('fixed' in src) {
      for (const c of src.fixed) add(result.constructed, c, where(n));
      return;
    }
    const arg = n.arguments?.[src.param];
    const codes = arg && codesOfArgument(arg);
    if (codes === 'any-code') return;
    if (codes === undefined) {
      result.problems.push(`${where(n)}: the code of new ${decl.name?.text}(...) is not a literal (${arg?.getText() ?? 'missing'})`);
      return;
    }
    for (const c of codes) add(result.constructed, c, where(n));
  }

  /** A thrown or rejected value: an OutpostError, or something caught or received passed on. */
  function checkRaised(e: ts.Expression, how: string): void {
    result.throwsSeen++;
    if (isFamilyType(checker.getTypeAtLocation(e))) return;
    let inner = e;
    while (ts.isAsExpression(inner) || ts.isParenthesizedExpression(inner) || ts.isNonNullExpression(inner) || ts.isTypeAssertionExpression(inner)) inner = inner.expression;
    if (ts.isIdentifier(inner)) return; // a value caught (catch clause, 'error' event) passed on unchanged
    result.problems.push(`${where(e)}: ${how} ${e.getText().slice(0, 80)}: not an OutpostError with a catalogued code`);
  }

  for (const sf of program.getSourceFiles()) {
    if (!files.includes(sf.fileName)) continue;
    const visit = (n: ts.Node): void => {
      if (ts.isThrowStatement(n)) checkRaised(n.expression, 'throw');
      else if (ts.isNewExpression(n)) checkConstruction(n);
      else if (ts.isCallExpression(n) && n.arguments.length > 0) {
        const callee = n.expression;
        const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : '';
        if (name === 'reject') checkRaised(n.arguments[0]!, 'reject');
      } else if (ts.isPropertyAssignment(n) && ts.isIdentifier(n.name) && n.name.text === 'code' && sf !== errorsSf) {
        const lit = literalCode(n.initializer);
        if (lit !== undefined) add(result.written, lit, where(n));
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return result;
}

const s = scan();
const documented = documentedCodes();

test('the scan reads the product source (throws and error constructions found)', () => {
  assert.ok(s.throwsSeen >= 50, `only ${s.throwsSeen} throws seen`);
  assert.ok(s.constructionsSeen >= 50, `only ${s.constructionsSeen} OutpostError constructions seen`);
  assert.ok(s.constructed.has('CAPTURE_FILE_NOT_FOUND') && s.constructed.has('CLI_USAGE'), 'codes through subclasses are followed');
});

test('product code throws only OutpostErrors with a literal catalogue code (or passes a caught value on)', () => {
  assert.deepEqual(s.problems, [], s.problems.join('\n'));
});

test('every code thrown or written is in ERRORS and documented in docs/ERRORS.md', () => {
  const missing: string[] = [];
  for (const [kind, m] of [['thrown', s.constructed], ['written', s.written]] as const) {
    for (const [code, at] of m) {
      if (!CATALOGUE.has(code)) missing.push(`${code} (${kind} at ${at[0]}) is not in ERRORS`);
      if (!documented.has(code)) missing.push(`${code} (${kind} at ${at[0]}) is not documented in docs/ERRORS.md`);
    }
  }
  assert.deepEqual(missing, [], missing.join('\n'));
});

test('every catalogued code is thrown somewhere', () => {
  const unused = [...CATALOGUE].filter((c) => !s.constructed.has(c));
  assert.deepEqual(unused, [], `catalogued but never thrown (throw it where it applies, or retire it in docs/ERRORS.md): ${unused.join(', ')}`);
});
