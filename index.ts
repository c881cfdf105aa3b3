import { platformProgram } from "./components/program";

const outputs = platformProgram();

export const url = outputs.url;
export const apiHealthUrl = outputs.apiHealthUrl;
export const apiImage = outputs.apiImage;
export const webImage = outputs.webImage;
export const migratorImage = outputs.migratorImage;
export const release = outputs.release;
export const verification = outputs.verification;
