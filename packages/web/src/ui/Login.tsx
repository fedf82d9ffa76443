// Log in or register with a user name and password; the homeserver is this page's origin.
import { useState } from "preact/hooks";
import { login, register, type Session } from "@ganglion/client";
import { errorText } from "./context.js";

export function Login({ onSession }: { onSession: (s: Session) => void }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const base = location.origin;
      const s = mode === "login"
        ? await login(base, user.trim(), password, { deviceName: "Ganglion web" })
        : await register(base, user.trim(), password, { deviceName: "Ganglion web", ...(token ? { registrationToken: token.trim() } : {}) });
      onSession(s);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login">
      <form class="card" onSubmit={submit} data-testid="login-form">
        <h1>Ganglion</h1>
        <p class="muted">{mode === "login" ? "Sign in to " : "Create an account on "}{location.host}</p>
        <label>User name<input name="username" autocomplete="username" value={user} onInput={(e) => setUser(e.currentTarget.value)} required /></label>
        <label>Password<input name="password" type="password" autocomplete={mode === "login" ? "current-password" : "new-password"} value={password} onInput={(e) => setPassword(e.currentTarget.value)} required /></label>
        {mode === "register" && <label>Registration token (if the server asks for one)<input name="token" value={token} onInput={(e) => setToken(e.currentTarget.value)} /></label>}
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{mode === "login" ? "Sign in" : "Create account"}</button>
        <button type="button" class="link" onClick={() => { setMode(mode === "login" ? "register" : "login"); setError(null); }}>
          {mode === "login" ? "No account? Create one" : "Have an account? Sign in"}
        </button>
      </form>
    </main>
  );
}
