/** The runtime config for components, and the API client bound to the signed-in account. */
import { useMsal } from "@azure/msal-react";
import { createContext, useCallback, useContext, useEffect, useState } from "react";
import { apiFetch } from "./api";
import { acquireApiToken } from "./auth";
import type { RuntimeConfig } from "./config";

export const ConfigContext = createContext<RuntimeConfig | null>(null);

export function useConfig(): RuntimeConfig {
  const config = useContext(ConfigContext);
  if (!config) throw new Error("useConfig outside <ConfigContext.Provider>");
  return config;
}

export type Api = <T>(path: string, init?: RequestInit) => Promise<T>;

/** `api("/me")`: a call to the API as the active account. */
export function useApi(): Api {
  const { instance } = useMsal();
  const config = useConfig();
  return useCallback(
    <T,>(path: string, init?: RequestInit) => {
      const account = instance.getActiveAccount();
      if (!account) return Promise.reject(new Error("Not signed in"));
      return apiFetch<T>(
        config.apiBaseUrl,
        path,
        (forceRefresh) => acquireApiToken(instance, config, account, forceRefresh),
        init,
      );
    },
    [instance, config],
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/** GET `path` when the component mounts, and again on `reload()`. */
export function useApiGet<T>(path: string): Loaded<T> {
  const api = useApi();
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    api<T>(path).then(
      (value) => current && (setData(value), setError(undefined)),
      (reason: unknown) => current && setError(String((reason as Error).message ?? reason)),
    );
    return () => {
      current = false;
    };
  }, [api, path, generation]);
  return { data, error, reload: useCallback(() => setGeneration((g) => g + 1), []) };
}
