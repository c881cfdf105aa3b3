import { PlatformConfig } from "../config";

/** Build args per image; none is a secret (build args end up in the image history). */
export function imageBuildArgs(cfg: PlatformConfig): { api: Record<string, string>; web: Record<string, string> } {
    const base: Record<string, string> = cfg.nodeImage ? { NODE_IMAGE: cfg.nodeImage } : {};
    return {
        api: { ...base },
        web: { ...base, ...(cfg.webRuntimeImage ? { RUNTIME_IMAGE: cfg.webRuntimeImage } : {}), VITE_API_BASE_URL: cfg.apiBaseUrl },
    };
}
