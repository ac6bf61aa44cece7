/**
 * Start-up: runtime config → MSAL (finishing a sign-in redirect if one is in the URL) → app.
 * A failure at any step is shown on the page, never left to the console.
 */
import { MsalProvider } from "@azure/msal-react";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { App } from "./App";
import { createMsal } from "./auth";
import { loadConfig } from "./config";
import { ConfigContext } from "./context";
import "./styles.css";

const root = createRoot(document.getElementById("root") as HTMLElement);

async function start(): Promise<void> {
  const config = await loadConfig();
  const msal = createMsal(config);
  await msal.initialize();
  let signInError: string | undefined;
  try {
    const result = await msal.handleRedirectPromise();
    const account = result?.account ?? msal.getActiveAccount() ?? msal.getAllAccounts()[0];
    if (account) msal.setActiveAccount(account);
  } catch (error) {
    signInError = (error as Error).message;
  }
  root.render(
    <StrictMode>
      <ConfigContext.Provider value={config}>
        <MsalProvider instance={msal}>
          {/* "/ui/" as it is: links to "/" then stay "/ui/", where the shell and MSAL expect. */}
          <BrowserRouter basename={config.basePath}>
            <App signInError={signInError} />
          </BrowserRouter>
        </MsalProvider>
      </ConfigContext.Provider>
    </StrictMode>,
  );
}

start().catch((error: unknown) => {
  root.render(
    <main className="page">
      <h1>Portico could not start</h1>
      <p role="alert" className="error">
        {(error as Error).message}
      </p>
    </main>,
  );
});
