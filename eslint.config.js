// Lint config: typescript-eslint's recommended rules, with the few project choices spelled out.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'test/e2e/workspaces/**', '**/bazel-*/**', '!src/frontends/bazel-http/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The status page's browser script: tsc checks its names against the DOM and uPlot's
    // types (tsconfig.page.json), which no-undef cannot see.
    files: ['status-page/**/*.js'],
    rules: { 'no-undef': 'off' },
  },
);
