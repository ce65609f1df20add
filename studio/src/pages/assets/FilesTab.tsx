// The files of an asset version's upload (`forgeml://content/<digest>[/<sub>]`): folders to
// walk into, sizes, download links, and a preview of the chosen file — a CSV/TSV's first rows as
// a table, the start of a text file — read through the server's bounded preview route. The
// folder and the file shown live in the URL (`?dir=&file=`).
import { useMemo } from "react";
import { Card, Empty, ErrorBox, Loading } from "../../components/ui";
import { formatBytes, formatNumber } from "../../lib/format";
import { useLoad, useQueryParam } from "../../lib/hooks";
import { fileUrl, getManifest, getPreview, parseContentUri } from "./assetApi";

type Entry = { name: string; path: string; size: number; folder: boolean; files: number };

const PREVIEWABLE = /\.(csv|tsv|tab|txt|md|json|jsonl|ya?ml|py|cfg|ini|toml|log|sh|r|sql|xml|html?)$/i;
const TABLE = /\.(csv|tsv|tab)$/i;
const KNOWN_TEXT = /(^|\/)(MLmodel|MLTable|Dockerfile|LICENSE|README|requirements\.txt|conda\.ya?ml)$/;

const FolderIcon = () => (
  <svg className="file-icon folder" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
    <path fill="currentColor" d="M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z" />
  </svg>
);
const FileIcon = () => (
  <svg className="file-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
    <path fill="currentColor" d="M6 2h8l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V8h4.5z" />
  </svg>
);

function canPreview(path: string) {
  return PREVIEWABLE.test(path) || KNOWN_TEXT.test(path);
}

export function FilesTab({ uri, field }: { uri: string; field: string }) {
  const parsed = parseContentUri(uri)!;
  const [dir, setDir] = useQueryParam("dir");
  const [file, setFile] = useQueryParam("file");
  const manifest = useLoad(() => getManifest(parsed.digest), [parsed.digest]);

  // the asset's own files: all of the upload, or the file/folder its sub-path names
  const files = useMemo(() => {
    const all = manifest.data?.files ?? [];
    const sub = parsed.sub.replace(/\/$/, "");
    if (!sub) return all.map((f) => ({ ...f, rel: f.path }));
    const exact = all.filter((f) => f.path === sub);
    if (exact.length) return exact.map((f) => ({ ...f, rel: f.path.split("/").pop()! }));
    return all.filter((f) => f.path.startsWith(sub + "/")).map((f) => ({ ...f, rel: f.path.slice(sub.length + 1) }));
  }, [manifest.data, parsed.sub]);

  const entries = useMemo(() => {
    const here = dir ? dir.replace(/\/$/, "") + "/" : "";
    const byName = new Map<string, Entry>();
    for (const f of files) {
      if (!f.rel.startsWith(here)) continue;
      const rest = f.rel.slice(here.length);
      const slash = rest.indexOf("/");
      if (slash < 0) {
        byName.set(rest, { name: rest, path: f.path, size: f.size, folder: false, files: 1 });
      } else {
        const name = rest.slice(0, slash);
        const e = byName.get(name + "/") ?? { name, path: here + name, size: 0, folder: true, files: 0 };
        e.size += f.size;
        e.files += 1;
        byName.set(name + "/", e);
      }
    }
    return [...byName.values()].sort((a, b) => Number(b.folder) - Number(a.folder) || a.name.localeCompare(b.name));
  }, [files, dir]);

  const total = files.reduce((n, f) => n + f.size, 0);
  // without a choice, preview the first table here (else the only file)
  const shown =
    file ||
    entries.find((e) => !e.folder && TABLE.test(e.name))?.path ||
    (entries.length === 1 && !entries[0].folder && canPreview(entries[0].path) ? entries[0].path : "");

  if (manifest.error) return <ErrorBox error={manifest.error} title="The files could not be listed" />;
  if (!manifest.data) return <Loading label="Loading files" />;

  const crumbs = dir ? dir.split("/").filter(Boolean) : [];
  return (
    <div className="files-layout">
      <Card
        title="Files"
        actions={
          <span className="muted">
            {formatNumber(files.length)} {files.length === 1 ? "file" : "files"} · {formatBytes(total)}
          </span>
        }
      >
        <p className="muted small">
          <span className="mono">{field}</span>: <span className="mono break">{uri}</span>
        </p>
        <nav aria-label="Folder" className="folder-crumbs">
          <button className="link-btn" onClick={() => setDir("")} disabled={!dir}>
            (root)
          </button>
          {crumbs.map((c, i) => (
            <span key={i}>
              <span aria-hidden="true"> / </span>
              <button
                className="link-btn"
                disabled={i === crumbs.length - 1}
                onClick={() => setDir(crumbs.slice(0, i + 1).join("/"))}
              >
                {c}
              </button>
            </span>
          ))}
        </nav>
        <div className="table-wrap flat">
          <table className="table">
            <caption className="sr-only">Files in {dir || "the root folder"}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.name + (e.folder ? "/" : "")} data-file={e.name} className={e.path === shown ? "selected" : ""}>
                  <td>
                    {e.folder ? (
                      <button className="link-btn file-name" onClick={() => setDir(e.path)}>
                        <FolderIcon />
                        {e.name}/
                      </button>
                    ) : (
                      <span className="file-name">
                        <FileIcon />
                        {canPreview(e.path) ? (
                          <button
                            className="link-btn"
                            aria-label={`Preview ${e.name}`}
                            aria-pressed={e.path === shown}
                            onClick={() => setFile(e.path)}
                          >
                            {e.name}
                          </button>
                        ) : (
                          e.name
                        )}
                      </span>
                    )}
                  </td>
                  <td className="num">
                    {formatBytes(e.size)}
                    {e.folder && (
                      <span className="muted">
                        {" "}
                        · {e.files} {e.files === 1 ? "file" : "files"}
                      </span>
                    )}
                  </td>
                  <td className="actions-col">
                    {!e.folder && (
                      <a className="btn btn-small" href={fileUrl(parsed.digest, e.path)} download={e.name} aria-label={`Download ${e.name}`}>
                        Download
                      </a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {entries.length === 0 && <Empty title="This folder is empty" />}
        </div>
      </Card>
      {shown ? (
        <FilePreview digest={parsed.digest} path={shown} />
      ) : (
        <Card title="Preview">
          <p className="muted">Choose a CSV, TSV or text file to see its start here.</p>
        </Card>
      )}
    </div>
  );
}

function FilePreview({ digest, path }: { digest: string; path: string }) {
  const preview = useLoad(() => getPreview(digest, path), [digest, path]);
  const name = path.split("/").pop();
  const p = preview.data;
  return (
    <Card
      title={<>Preview: <span className="mono">{name}</span></>}
      actions={
        <a className="btn btn-small" href={fileUrl(digest, path)} download={name} aria-label={`Download ${name} (preview)`}>
          Download
        </a>
      }
      className="preview-card"
    >
      <ErrorBox error={preview.error} title="The preview could not be read" />
      {!p && !preview.error && <Loading label="Reading the file" />}
      {p && p.kind === "table" && (
        <>
          <div className="table-wrap flat preview-table" tabIndex={0} role="region" aria-label={`Rows of ${name}`}>
            <table className="table">
              <caption className="sr-only">First rows of {name}</caption>
              <thead>
                <tr>
                  <th scope="col" className="num row-no">
                    #
                  </th>
                  {(p.columns ?? []).map((c, i) => (
                    <th scope="col" key={i}>
                      {c}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {(p.rows ?? []).map((r, i) => (
                  <tr key={i}>
                    <td className="num row-no">{i + 1}</td>
                    {r.map((v, j) => (
                      <td key={j}>{v}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted small">
            {p.truncated
              ? `The first ${p.rows?.length ?? 0} rows of ${formatBytes(p.size)}; download the file for all of it.`
              : `All ${p.rows?.length ?? 0} rows (${formatBytes(p.size)}).`}
          </p>
        </>
      )}
      {p && p.kind === "text" && (
        <>
          <pre className="code preview-text" tabIndex={0} aria-label={`Start of ${name}`}>
            {p.text}
          </pre>
          {p.truncated && <p className="muted small">The start of {formatBytes(p.size)}; download the file for the rest.</p>}
        </>
      )}
      {p && p.kind === "binary" && (
        <p className="muted">A binary file of {formatBytes(p.size)}: download it to open it.</p>
      )}
    </Card>
  );
}
