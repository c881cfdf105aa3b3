// Type-aware lint: the Pulumi rules need type information to spot an Output in a template string.
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";

export default tseslint.config(
  { ignores: ["node_modules/**", "examples/**", "policies/node_modules/**", ".real-cache/**", ".real-artifacts/**", "eslint.config.mjs"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@pulumi": pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    // Plain JavaScript that worker threads load without a TypeScript loader (lib/build/digestWorker.js).
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: "commonjs" },
    rules: {
      "@typescript-eslint/no-require-imports": "off",
      // Type-aware rules need a TypeScript program; this file has none (its types are a .d.ts).
      "@pulumi/no-output-in-template-literal": "off",
      "@pulumi/no-output-instance-in-template-literal": "off",
    },
  },
  {
    // The routes responder runs in its own image with no TypeScript loader (images/routes).
    files: ["images/**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: "module", globals: { process: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } },
    rules: {
      "@pulumi/no-output-in-template-literal": "off",
      "@pulumi/no-output-instance-in-template-literal": "off",
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // mocha's describe/it are called for their side effect
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
