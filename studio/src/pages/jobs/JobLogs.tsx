// A job's logs: read in order from the server (`after=` the last sequence number), kept
// following while the job runs (new lines appended, scrolled into view), one stream or all,
// and a search that keeps the matching lines and marks the match.
import { Fragment, useEffect, useMemo, useRef, useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { Empty, ErrorBox, Loading } from "../../components/ui";
import { useDebounced, useQueryParam } from "../../lib/hooks";

type Chunk = Schemas["JobLogChunk"];
type Line = { stream: string; text: string; open: boolean };
const POLL_MS = 1200;
/** the most lines drawn at once; older ones stay in the log, beyond the view */
const MAX_LINES = 20000;

function toLines(chunks: Chunk[]): Line[] {
  const lines: Line[] = [];
  const last = new Map<string, number>(); // stream -> index of its unterminated line
  for (const c of chunks) {
    const pieces = c.text.split("\n");
    pieces.forEach((piece, i) => {
      const end = i === pieces.length - 1;
      if (end && piece === "") return; // the text ended with a newline
      const open = last.get(c.stream);
      if (i === 0 && open !== undefined) {
        lines[open].text += piece;
        if (!end) {
          lines[open].open = false;
          last.delete(c.stream);
        }
        return;
      }
      lines.push({ stream: c.stream, text: piece, open: end });
      if (end) last.set(c.stream, lines.length - 1);
      else last.delete(c.stream);
    });
  }
  return lines;
}

function highlight(text: string, query: string) {
  if (!query) return text;
  const parts: React.ReactNode[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(query); i >= 0; i = lower.indexOf(query, at)) {
    parts.push(text.slice(at, i), <mark key={i}>{text.slice(i, i + query.length)}</mark>);
    at = i + query.length;
  }
  parts.push(text.slice(at));
  return parts;
}

export function JobLogs({ name }: { name: string }) {
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [done, setDone] = useState(false);
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [loaded, setLoaded] = useState(false);
  const [stream, setStream] = useQueryParam("stream", "");
  const [query, setQuery] = useState("");
  const search = useDebounced(query.trim().toLowerCase(), 200);
  const [follow, setFollow] = useState(true);
  const view = useRef<HTMLPreElement>(null);

  useEffect(() => {
    let after = 0;
    let timer: number | undefined;
    let stopped = false;
    setChunks([]);
    setDone(false);
    setLoaded(false);
    const read = async () => {
      try {
        const page = await unwrap(
          api.GET("/api/v1/jobs/{name}/logs", { params: { path: { name }, query: { after, limit: 5000 } } }),
        );
        if (stopped) return;
        after = page.last_seq;
        if (page.items.length) setChunks((prev) => [...prev, ...page.items]);
        setStatus(page.status);
        setLoaded(true);
        setError(undefined);
        if (page.done) {
          setDone(true);
          return;
        }
        // more is waiting: read on at once; otherwise look again shortly
        timer = window.setTimeout(read, page.items.length >= 5000 ? 0 : POLL_MS);
      } catch (err) {
        if (stopped) return;
        setError(err);
        timer = window.setTimeout(read, POLL_MS * 3);
      }
    };
    read();
    return () => {
      stopped = true;
      if (timer !== undefined) window.clearTimeout(timer);
    };
  }, [name]);

  const streams = useMemo(() => [...new Set(chunks.map((c) => c.stream))].sort(), [chunks]);
  const lines = useMemo(() => toLines(stream ? chunks.filter((c) => c.stream === stream) : chunks), [chunks, stream]);
  const shown = useMemo(() => {
    const numbered = lines.map((l, i) => ({ ...l, no: i + 1 }));
    const hits = search ? numbered.filter((l) => l.text.toLowerCase().includes(search)) : numbered;
    return hits.slice(-MAX_LINES);
  }, [lines, search]);

  useEffect(() => {
    if (follow && view.current) view.current.scrollTop = view.current.scrollHeight;
  }, [shown, follow]);

  return (
    <div>
      <div className="log-toolbar">
        <div className="field">
          <label htmlFor="log-stream">Stream</label>
          <select id="log-stream" value={stream} onChange={(e) => setStream(e.target.value)}>
            <option value="">All streams</option>
            {[...new Set([...streams, ...(stream ? [stream] : [])])].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="log-search">Search the logs</label>
          <input id="log-search" type="search" placeholder="Text to find" value={query} onChange={(e) => setQuery(e.target.value)} />
        </div>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <span className="muted log-status" aria-live="polite">
          {done ? "The job has ended; this is the whole log." : loaded ? `Live · ${status ?? ""}` : ""}
        </span>
      </div>
      <ErrorBox error={error} title="The logs could not be read" />
      {!loaded && !error ? (
        <Loading label="Reading the logs" />
      ) : lines.length === 0 ? (
        <Empty title={done ? "This job wrote no logs" : "No logs yet"}>{done ? null : "Lines appear here as the job writes them."}</Empty>
      ) : (
        <>
          <pre className="log-view" ref={view} tabIndex={0} aria-label={`Logs of ${name}`} data-testid="log-view">
            {shown.map((l) => (
              <Fragment key={l.no}>
                <span className={`log-line log-${l.stream}`}>
                  <span className="log-no" aria-hidden="true">
                    {l.no}
                  </span>
                  {!stream && <span className="log-stream">{l.stream}</span>}
                  <span className="log-text">{highlight(l.text, search)}</span>
                </span>
              </Fragment>
            ))}
          </pre>
          <div className="log-foot muted">
            <span>
              {search ? `${shown.length} of ${lines.length} lines match` : `${lines.length} lines`}
              {stream ? ` in ${stream}` : ""}
            </span>
            {search && shown.length === 0 && <span>Nothing matches “{query}”.</span>}
          </div>
        </>
      )}
    </div>
  );
}
