// Lint: typescript-eslint recommended, plus the layering rule from DESIGN.md (core stays pure).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', '.tools/**', 'node_modules/**', 'shadow-probe/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:fs', 'node:fs/*', 'fs', 'node:child_process', 'child_process', 'node:net', 'node:http*'], message: 'core is pure: do I/O in adapters' },
          { group: ['@kubernetes/client-node', 'prom-client', 'p-queue'], message: 'core is pure: use ports' },
          { group: ['**/adapters/**', '**/workflows/**', '**/commands/**'], message: 'core must not depend on outer layers' },
        ],
      }],
    },
  },
);
