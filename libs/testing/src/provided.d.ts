declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's test namespace as environment variables (libs/testing/src/global-setup.ts). */
    chatEnv: Record<string, string>;
  }
}

export {};
