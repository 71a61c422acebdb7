/** The package ships JSON/ESM without type declarations. */
declare module 'color-name-list/bestof' {
  export const colornames: ReadonlyArray<{ readonly name: string; readonly hex: string }>;
}
