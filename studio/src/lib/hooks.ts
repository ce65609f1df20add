import type React from "react";
import { useCallback, useEffect, useRef, useState } from "react";
import { useSearchParams } from "react-router-dom";

export type Loaded<T> = {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
};

/**
 * Load with `fetcher` whenever `deps` change (and every `pollMs` while `pollWhile` holds).
 * A slow answer to an old request never overwrites a newer one.
 */
export function useLoad<T>(
  fetcher: () => Promise<T>,
  deps: unknown[],
  opts: { pollMs?: number; pollWhile?: (data: T | undefined) => boolean } = {},
): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const fetchRef = useRef(fetcher);
  fetchRef.current = fetcher;
  const pollWhile = useRef(opts.pollWhile);
  pollWhile.current = opts.pollWhile;

  useEffect(() => {
    const id = ++latest.current;
    let timer: number | undefined;
    setLoading(true);
    fetchRef
      .current()
      .then((d) => {
        if (id !== latest.current) return;
        setData(d);
        setError(undefined);
        if (opts.pollMs && (!pollWhile.current || pollWhile.current(d))) {
          timer = window.setTimeout(() => setTick((t) => t + 1), opts.pollMs);
        }
      })
      .catch((e: Error) => {
        if (id === latest.current) setError(e);
      })
      .finally(() => {
        if (id === latest.current) setLoading(false);
      });
    return () => {
      if (timer !== undefined) window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** One piece of page state kept in the URL's query string, so that a link shares it. */
export function useQueryParam(name: string, fallback = ""): [string, (v: string) => void] {
  const [params, setParams] = useSearchParams();
  const value = params.get(name) ?? fallback;
  const set = useCallback(
    (v: string) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          if (v === "" || v === fallback) next.delete(name);
          else next.set(name, v);
          if (name !== "page") next.delete("page");
          return next;
        },
        { replace: true },
      ),
    [name, fallback, setParams],
  );
  return [value, set];
}

/** A value that follows `value` once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms = 250): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Whether the element has come near the screen once (it stays true after). */
export function useSeen<T extends Element>(margin = "300px"): [React.RefObject<T | null>, boolean] {
  const ref = useRef<T>(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    const watch = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setSeen(true);
          watch.disconnect();
        }
      },
      { rootMargin: margin },
    );
    watch.observe(el);
    return () => watch.disconnect();
  }, [seen, margin]);
  return [ref, seen];
}
