// @ts-check
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Dependency direction is enforced here, not remembered: shared/ imports nothing of server/ or
// client/, and client/ never imports server/.
const noImport = (...patterns) => ({
  'no-restricted-imports': [
    'error',
    { patterns: patterns.map((group) => ({ group: [group], message: 'Breaks the dependency direction (see docs/ARCHITECTURE.md).' })) },
  ],
});

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'bench/results/', 'server/store/profile-build.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['client/**/*.svelte', 'client/**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] }, globals: { ...globals.browser } },
  },
  { files: ['client/**'], languageOptions: { globals: { ...globals.browser } }, rules: noImport('**/server/**') },
  { files: ['shared/**'], rules: noImport('**/server/**', '**/client/**') },
  { files: ['server/**'], rules: noImport('**/client/**') },
  // Type-aware: a promise nobody awaits or handles is an error that nobody hears (or a crash).
  {
    files: ['**/*.ts', 'client/**/*.svelte'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error', '@typescript-eslint/no-misused-promises': 'error' },
  },
  // Scripts and tests print progress on purpose.
  { files: ['test/**', 'bench/**', '**/*.mjs'], rules: { 'no-console': 'off' } },
);
