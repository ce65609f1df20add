// The live split between an endpoint's deployments: a slider and a number per deployment, the
// total shown (Apply only at 100), and the mirrored share. Apply is one PATCH of the traffic;
// the workspace switches without failing a request.
import { useEffect, useMemo, useState } from "react";
import { api, unwrap } from "../../api/client";
import { PALETTE } from "../../components/LineChart";
import { ErrorBox } from "../../components/ui";
import type { OnlineDeployment, OnlineEndpoint } from "./common";

function same(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

export function TrafficEditor(props: {
  endpoint: OnlineEndpoint;
  deployments: OnlineDeployment[];
  onApplied: () => void;
}) {
  const names = useMemo(() => props.deployments.map((d) => d.name!).sort(), [props.deployments]);
  const server = useMemo(() => props.endpoint.traffic ?? {}, [props.endpoint.traffic]);
  const serverMirror = useMemo(() => props.endpoint.mirror_traffic ?? {}, [props.endpoint.mirror_traffic]);
  const [weights, setWeights] = useState<Record<string, number>>(server);
  const [mirrorTo, setMirrorTo] = useState(Object.keys(serverMirror)[0] ?? "");
  const [mirrorPct, setMirrorPct] = useState(Object.values(serverMirror)[0] ?? 10);
  const [dirty, setDirty] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<string>();

  // the server's split, unless the user is editing
  useEffect(() => {
    if (!dirty) {
      setWeights(server);
      setMirrorTo(Object.keys(serverMirror)[0] ?? "");
      setMirrorPct(Object.values(serverMirror)[0] ?? 10);
    }
  }, [server, serverMirror, dirty]);

  const total = names.reduce((s, n) => s + (weights[n] ?? 0), 0);
  const mirror = mirrorTo ? { [mirrorTo]: mirrorPct } : {};
  const changed = !same(weights, server) || !same(mirror, serverMirror);
  const mirrorBad = mirrorTo !== "" && ((weights[mirrorTo] ?? 0) > 0 || mirrorPct < 1 || mirrorPct > 50);

  function set(name: string, value: number) {
    const v = Math.max(0, Math.min(100, Math.round(value) || 0));
    setDirty(true);
    setDone(undefined);
    setWeights((w) => {
      const next = { ...w, [name]: v };
      // with two deployments, the other one takes the rest: a blue/green split is one move
      if (names.length === 2) next[names.find((n) => n !== name)!] = 100 - v;
      return next;
    });
  }

  async function apply() {
    setBusy(true);
    setError(undefined);
    try {
      const traffic = Object.fromEntries(names.map((n) => [n, weights[n] ?? 0]));
      await unwrap(
        api.PATCH("/api/v1/online-endpoints/{name}/traffic", {
          params: { path: { name: props.endpoint.name! } },
          body: { traffic, mirror_traffic: mirror },
        }),
      );
      setDirty(false);
      setDone("Traffic updated: requests follow the new split now.");
      props.onApplied();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (!names.length) return <p className="muted">No deployments yet: traffic goes to deployments once they exist.</p>;
  return (
    <div>
      <div className="traffic-bar" aria-hidden="true">
        {names.map((n, i) => (
          <span key={n} style={{ width: `${weights[n] ?? 0}%`, background: PALETTE[i % PALETTE.length] }} />
        ))}
      </div>
      {names.map((n, i) => (
        <div className="traffic-row" key={n}>
          <span className="dep-name">
            <span className="swatch" style={{ background: PALETTE[i % PALETTE.length] }} aria-hidden="true" />
            {n}
          </span>
          <input
            type="range"
            min={0}
            max={100}
            step={1}
            value={weights[n] ?? 0}
            aria-label={`Traffic for ${n}`}
            aria-valuetext={`${weights[n] ?? 0} percent`}
            onChange={(e) => set(n, Number(e.target.value))}
          />
          <input
            type="number"
            min={0}
            max={100}
            value={weights[n] ?? 0}
            aria-label={`Traffic percent for ${n}`}
            onChange={(e) => set(n, Number(e.target.value))}
          />
        </div>
      ))}
      <div className="mirror">
        <div className="field">
          <label htmlFor="mirror-to">Mirror traffic to</label>
          <select
            id="mirror-to"
            value={mirrorTo}
            onChange={(e) => {
              setDirty(true);
              setDone(undefined);
              setMirrorTo(e.target.value);
            }}
          >
            <option value="">No mirroring</option>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="mirror-pct">Mirrored percent</label>
          <input
            id="mirror-pct"
            type="number"
            min={1}
            max={50}
            disabled={!mirrorTo}
            value={mirrorPct}
            onChange={(e) => {
              setDirty(true);
              setMirrorPct(Math.round(Number(e.target.value) || 0));
            }}
          />
        </div>
        <span className="muted" style={{ paddingBottom: 6 }}>
          A copy of that share goes to a deployment with no live traffic; its answers are dropped.
        </span>
      </div>
      <div className="traffic-foot">
        <span className={`total ${total === 100 ? "ok" : "bad"}`} role="status">
          Total {total}%{total !== 100 && " — the split must add up to 100%"}
          {mirrorBad && " · mirror at most 50% to a deployment without live traffic"}
        </span>
        <div className="actions">
          <button
            className="btn"
            disabled={!changed || busy}
            onClick={() => {
              setDirty(false);
              setError(undefined);
            }}
          >
            Reset
          </button>
          <button className="btn btn-primary" disabled={total !== 100 || !changed || mirrorBad || busy} onClick={apply}>
            {busy ? "Applying…" : "Apply"}
          </button>
        </div>
      </div>
      <ErrorBox error={error} title="The split was not changed" />
      {done && (
        <div className="notice" role="status" style={{ marginTop: 12, marginBottom: 0 }}>
          {done}
        </div>
      )}
    </div>
  );
}
