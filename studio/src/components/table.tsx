// Tables whose sort order and page live in the URL (`?sort=&order=&page=`), paged on the server.
import { useRef, type ReactNode } from "react";
import { useSearchParams } from "react-router-dom";
import { useQueryParam } from "../lib/hooks";

export type Column<T> = {
  id: string;
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** the server's name for sorting by this column; absent: not sortable */
  sort?: string;
  className?: string;
};

export function useSort(defaultSort: string, defaultOrder: "asc" | "desc" = "desc") {
  const [sort] = useQueryParam("sort", defaultSort);
  const [order, setOrder] = useQueryParam("order", defaultOrder);
  const [, setParams] = useSearchParams();
  return {
    sort,
    order: order === "asc" ? ("asc" as const) : ("desc" as const),
    toggle(by: string) {
      if (by === sort) setOrder(order === "asc" ? "desc" : "asc");
      else {
        // one update for both: two functional updates in a row would each start from the
        // same URL (react-router does not chain them), and the second would undo the first
        setParams(
          (prev) => {
            const next = new URLSearchParams(prev);
            if (by === defaultSort) next.delete("sort");
            else next.set("sort", by);
            if (defaultOrder === "desc") next.delete("order");
            else next.set("order", "desc");
            next.delete("page");
            return next;
          },
          { replace: true },
        );
      }
    },
  };
}

export function DataTable<T>(props: {
  label: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  sort?: ReturnType<typeof useSort>;
  selected?: Set<string>;
  onSelect?: (key: string, on: boolean) => void;
  empty?: ReactNode;
  busy?: boolean;
}) {
  const { columns, rows, sort } = props;
  return (
    <div className="table-wrap" aria-busy={props.busy ? "true" : "false"}>
      <table className="table">
        <caption className="sr-only">{props.label}</caption>
        <thead>
          <tr>
            {props.onSelect && (
              <th className="select-col">
                <span className="sr-only">Select</span>
              </th>
            )}
            {columns.map((c) => {
              const active = sort && c.sort && sort.sort === c.sort;
              return (
                <th
                  key={c.id}
                  className={c.className}
                  aria-sort={active ? (sort.order === "asc" ? "ascending" : "descending") : undefined}
                  scope="col"
                >
                  {c.sort && sort ? (
                    <button className="sort-btn" onClick={() => sort.toggle(c.sort!)}>
                      {c.header}
                      <span aria-hidden="true" className="sort-mark">
                        {active ? (sort.order === "asc" ? "▲" : "▼") : "↕"}
                      </span>
                    </button>
                  ) : (
                    c.header
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const key = props.rowKey(row);
            return (
              <tr key={key} data-row={key}>
                {props.onSelect && (
                  <td className="select-col">
                    <input
                      type="checkbox"
                      aria-label={`Select ${key}`}
                      checked={props.selected?.has(key) ?? false}
                      onChange={(e) => props.onSelect!(key, e.target.checked)}
                    />
                  </td>
                )}
                {columns.map((c) => (
                  <td key={c.id} className={c.className}>
                    {c.cell(row)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
      {rows.length === 0 && !props.busy && props.empty}
    </div>
  );
}

/**
 * Server paging by opaque tokens: the current page's token is in the URL (`?page=`); the tokens
 * of the pages before it are remembered so that "Previous" works.
 */
export function usePager() {
  const [token, setToken] = useQueryParam("page", "");
  const history = useRef<string[]>([]);
  return {
    token: token || undefined,
    next(nextToken: string) {
      history.current.push(token);
      setToken(nextToken);
    },
    prev() {
      setToken(history.current.pop() ?? "");
    },
    first() {
      history.current = [];
      setToken("");
    },
    hasPrev: token !== "",
  };
}

export function Pager(props: { pager: ReturnType<typeof usePager>; nextToken?: string | null; count: number }) {
  const { pager } = props;
  return (
    <nav className="pager" aria-label="Pages">
      <span className="muted">{props.count} shown</span>
      <button className="btn" disabled={!pager.hasPrev} onClick={() => pager.first()}>
        First
      </button>
      <button className="btn" disabled={!pager.hasPrev} onClick={() => pager.prev()}>
        Previous
      </button>
      <button
        className="btn"
        disabled={!props.nextToken}
        onClick={() => props.nextToken && pager.next(props.nextToken)}
      >
        Next
      </button>
    </nav>
  );
}
