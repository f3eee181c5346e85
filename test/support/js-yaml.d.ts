/**
 * The one js-yaml call the tests make (docker-files.test.ts reads docker-compose.yml). js-yaml 4
 * ships no types and is in node_modules through eslint's @eslint/eslintrc, not as a dependency of
 * its own; declaring only `load` keeps the test honest about what it relies on.
 */
declare module 'js-yaml' {
  export function load(text: string): unknown;
}
