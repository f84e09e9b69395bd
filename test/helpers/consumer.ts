// Consumer projects in a temp dir, as a user of the package would have them:
// a package.json, a tsconfig, and node_modules entries (symlinks into this
// repo's, so the types are the real ones and nothing is downloaded).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from './harness';

export interface ConsumerProject {
  type: 'commonjs' | 'module';
  compilerOptions: Record<string, unknown>;
  /** node_modules entries linked from this repo's node_modules; the package itself is linked unless `installed`. */
  links?: string[];
}

/** A fresh temp dir under the OS's, named for `tag` and this process. */
export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sticky-native-${tag}-${process.pid}-`));
}

/** Writes the project into `dir` (created) with `files` (name -> text). */
export function writeProject(dir: string, project: ConsumerProject, files: Record<string, string>): string {
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir).toLowerCase(), private: true, type: project.type }));
  // skipLibCheck as `tsc --init` writes it; a project can turn it off to check every .d.ts.
  const compilerOptions = { strict: true, target: 'es2022', types: ['node'], skipLibCheck: true, ...project.compilerOptions };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: Object.keys(files) }, null, 2));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  for (const entry of project.links ?? ['sticky-native', '@types/node', 'socket.io']) {
    const target = entry === 'sticky-native' ? REPO_ROOT : path.join(REPO_ROOT, 'node_modules', entry);
    fs.symlinkSync(target, path.join(dir, 'node_modules', entry), 'dir');
  }
  return dir;
}

export interface TscResult {
  code: number;
  output: string;
}

/** Runs this repo's tsc on the project in `dir`. */
export function tsc(dir: string, ...args: string[]): Promise<TscResult> {
  const bin = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '-p', dir, ...args], { cwd: dir, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}
