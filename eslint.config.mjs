// Type-aware lint: floating promises are errors; Node built-ins are banned in
// every file the workflow bundle imports (found by walking its imports); lib/
// never imports activities/; src/ never imports test/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { workflowBundleFiles } from './scripts/workflow-files.mjs';

const NODE_BUILTINS = [
  'node:*',
  'fs',
  'fs/*',
  'path',
  'child_process',
  'net',
  'os',
  'crypto',
  'http',
  'https',
  'dns',
  'tls',
  'util',
  'stream',
  'events',
  'timers',
  'worker_threads',
  'process',
];
const workflowBundle = workflowBundleFiles(import.meta.dirname);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', '*.config.*', 'eslint.config.mjs', 'scripts/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**', '../test', '../../test'], message: 'src/ never imports test/ (the image ships without it)' }] },
      ],
    },
  },
  {
    files: ['src/lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/activities', '**/activities/**'], message: 'lib/ never imports activities/ (move the shared piece to lib/)' },
            { group: ['**/test/**'], message: 'src/ never imports test/' },
          ],
        },
      ],
    },
  },
  {
    files: [...workflowBundle, 'src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: NODE_BUILTINS, message: 'workflow code must be deterministic: no Node built-ins (use an activity)' },
            { group: ['**/test/**'], message: 'src/ never imports test/' },
          ],
        },
      ],
    },
  },
);
