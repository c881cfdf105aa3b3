/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Baked in at build time, e.g. http://localhost:8082/api */
  readonly VITE_API_BASE_URL: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
