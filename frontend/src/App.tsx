/** The frame: header with sign-in state, and the two pages for a signed-in user. */
import { InteractionStatus } from "@azure/msal-browser";
import { AuthenticatedTemplate, UnauthenticatedTemplate, useMsal } from "@azure/msal-react";
import { NavLink, Route, Routes } from "react-router";
import { useConfig } from "./context";
import { Profile } from "./pages/Profile";
import { Projects } from "./pages/Projects";

export function App({ signInError }: { signInError?: string }) {
  const { instance, inProgress } = useMsal();
  const busy = inProgress !== InteractionStatus.None;
  const config = useConfig();
  const account = instance.getActiveAccount();
  const signIn = () => instance.loginRedirect({ scopes: config.auth.scopes });
  const signOut = () => instance.logoutRedirect({ account });
  return (
    <>
      <header className="bar">
        <span className="brand">Portico</span>
        <span className={`env env-${config.environment}`}>{config.environment}</span>
        <AuthenticatedTemplate>
          <nav>
            <NavLink to="/" end>
              Profile
            </NavLink>
            <NavLink to="/projects">Projects</NavLink>
          </nav>
          <span className="who" data-testid="user-name">
            {account?.name ?? account?.username}
          </span>
          <button type="button" onClick={signOut} disabled={busy}>
            Sign out
          </button>
        </AuthenticatedTemplate>
      </header>
      <main className="page">
        {signInError && (
          <p role="alert" className="error">
            Sign-in failed: {signInError}
          </p>
        )}
        <UnauthenticatedTemplate>
          <h1>Welcome to Portico</h1>
          <p>Sign in with your organisation account to see what Portico lets you do.</p>
          <button type="button" className="primary" onClick={signIn} disabled={busy}>
            Sign in
          </button>
        </UnauthenticatedTemplate>
        <AuthenticatedTemplate>
          <Routes>
            <Route index element={<Profile />} />
            <Route path="projects" element={<Projects />} />
            <Route path="*" element={<p>Nothing here. Try the profile or the projects.</p>} />
          </Routes>
        </AuthenticatedTemplate>
      </main>
      <footer className="foot">
        Portico · build {config.build.version || "?"} · commit{" "}
        {config.build.commit.slice(0, 12) || "?"}
      </footer>
    </>
  );
}
