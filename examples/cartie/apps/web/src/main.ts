// Replaced by Vite at build time with the literal VITE_API_BASE_URL value.
const API_BASE_URL: string = import.meta.env.VITE_API_BASE_URL.replace(/\/+$/, "");

interface HealthBody {
  status?: string;
  reason?: string;
}

function show(status: string, detail: string): void {
  document.getElementById("health-status")!.textContent = status;
  document.getElementById("health-detail")!.textContent = detail;
}

async function refresh(): Promise<void> {
  try {
    const res = await fetch(`${API_BASE_URL}/health`, { cache: "no-store" });
    const body = (await res.json().catch(() => ({}))) as HealthBody;
    if (res.ok && body.status === "ok") {
      show("ok", "");
    } else {
      show("error", body.reason ?? `HTTP ${res.status}`);
    }
  } catch (e) {
    show("unreachable", (e as Error).message);
  }
}

document.getElementById("api-base")!.textContent = API_BASE_URL;
void refresh();
setInterval(() => void refresh(), 15_000);
