"""The serving controller: makes each online deployment's instances match what was asked.

It runs in the server process beside the job scheduler and reconciles on every change it hears
of (and every half second): a new generation of a deployment gets `instance_count` fresh
instances; when all of them are ready the deployment's `serving_generation` moves to it — the
router's switch — and the previous generation's instances are stopped a moment later, after
in-flight requests are answered. An instance whose `init()` fails marks a new deployment
`Failed` (it never takes traffic) and leaves an updated one serving its previous generation. A
serving instance that dies is replaced, with a growing pause between attempts.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from forgeml.compute.ray import RayTarget
from forgeml.services import computes, serving
from forgeml.services.context import Context, Workspace
from forgeml.services.endpoints import SERVING_TOPIC
from forgeml.serving.launch import Launcher, LocalLauncher, RayLauncher
from forgeml.store.repositories import DeploymentRecord, InstanceRecord

log = logging.getLogger("forgeml.serving")

#: after the switch to a new generation, how long the old instances keep answering
DRAIN_S = 1.5
#: how long a stopped worker may take before it is killed (a request may take 180 s)
STOP_TIMEOUT_S = 200.0
BACKOFF_MAX_S = 60.0
#: how long a server that shuts down waits for its workers to finish their requests
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class ControllerConfig:
    public_url: str
    home: Path
    poll_s: float = 0.5


class ServingController:
    def __init__(self, workspace: Workspace, config: ControllerConfig) -> None:
        self.ctx = Context(workspace)
        self.config = config
        self.local = LocalLauncher(config.public_url, config.home)
        self.ray: dict[str, RayLauncher] = {}
        self.wake = threading.Event()
        self.halt = threading.Event()
        self.thread: threading.Thread | None = None
        self.switched: dict[tuple[str, str], float] = {}
        self.stopping: dict[str, float] = {}
        self.forced: set[str] = set()
        self.backoff: dict[tuple[str, str], tuple[float, float]] = {}
        workspace.listeners.append(self._heard)

    def _heard(self, topic: str) -> None:
        if topic == SERVING_TOPIC:
            self.wake.set()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True, name="serving-controller")
        self.thread.start()

    def stop(self) -> None:
        """Stop reconciling and stop this machine's workers (the next start starts them again);
        workers on a Ray cluster keep serving. After a crash instead, the next start adopts the
        local workers that still run."""
        self.halt.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        try:
            self._stop_local()
        except Exception:  # shutting down regardless
            log.exception("could not stop the local serving workers")
        for launcher in self.ray.values():
            launcher.close()

    def _stop_local(self) -> None:
        local = [
            i
            for i in serving.state(self.ctx).instances
            if i.handle.get("kind") in ("local", "pending")
        ]
        for inst in local:
            self.local.stop(inst.handle)
            serving.remove_instance(self.ctx, inst.id)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(self.local.alive(i.handle) for i in local):
            time.sleep(0.1)
        for inst in local:
            self.local.stop(inst.handle, force=True)

    def _loop(self) -> None:
        while not self.halt.is_set():
            self.wake.clear()
            try:
                self.tick()
            except Exception:
                log.exception("serving controller pass failed")
            self.wake.wait(self.config.poll_s)

    # -------------------------------------------------------------------------- launchers

    def launcher(self, compute: str) -> Launcher:
        if compute == "local":
            return self.local
        entity = computes.get(self.ctx, compute)
        if getattr(entity, "type", "local") != "ray":
            return self.local
        found = self.ray.get(compute)
        if found is None:
            spec = entity.to_wire()
            found = self.ray[compute] = RayLauncher(
                self.config.public_url, RayTarget.from_spec(compute, spec)
            )
        return found

    def _launcher_of(self, inst: InstanceRecord) -> Launcher:
        if inst.handle.get("kind") == "ray":
            return self.launcher(str(inst.handle.get("compute")))
        return self.local

    # ---------------------------------------------------------------------------- passes

    def tick(self) -> None:
        state = serving.state(self.ctx)
        groups: dict[tuple[str, str], list[InstanceRecord]] = defaultdict(list)
        for inst in state.instances:
            groups[(inst.endpoint, inst.deployment)].append(inst)
        known = set()
        for dep in state.deployments:
            key = (dep.endpoint, dep.name)
            known.add(key)
            insts = groups.get(key, [])
            endpoint = state.endpoints.get(dep.endpoint)
            try:
                if dep.state == "Deleting" or endpoint is None or endpoint.state == "Deleting":
                    if self._stop_all(insts):
                        serving.forget_deployment(self.ctx, dep.endpoint, dep.name)
                        self.switched.pop(key, None)
                        self.backoff.pop(key, None)
                        self.ctx.workspace.notify(SERVING_TOPIC)
                    continue
                self._reconcile(dep, insts)
            except Exception as exc:  # one deployment's trouble must not stall the others
                log.exception("reconciling %s/%s failed", dep.endpoint, dep.name)
                self._note(dep, f"the serving controller could not act on it: {exc}")
        for key, insts in groups.items():
            if key not in known:
                self._stop_all(insts)
        remaining = {d.endpoint for d in state.deployments}
        for endpoint in state.endpoints.values():
            if endpoint.state == "Deleting" and endpoint.name not in remaining:
                serving.forget_endpoint(self.ctx, endpoint.name)

    def _note(self, dep: DeploymentRecord, line: str) -> None:
        """A line in the deployment's log (what happened to its instances, and why)."""
        try:
            serving.append_logs(self.ctx, [(dep.endpoint, dep.name, None, line)])
        except Exception:  # the log is worth less than the pass
            log.exception("could not log for %s/%s", dep.endpoint, dep.name)

    def _check_alive(self, insts: list[InstanceRecord]) -> list[InstanceRecord]:
        out = []
        for inst in insts:
            if inst.state in ("starting", "ready"):
                try:
                    alive = self._launcher_of(inst).alive(inst.handle)
                except Exception:
                    alive = True  # a cluster that does not answer: unknown, not dead
                if not alive:
                    why = getattr(self._launcher_of(inst), "exit_reason", None)
                    message = (
                        inst.message
                        or (why(inst.handle) if why else None)
                        or "the serving worker stopped without saying why"
                    )
                    serving.set_instance(self.ctx, inst.id, state="failed", message=message)
                    inst = InstanceRecord(
                        **{**inst.__dict__, "state": "failed", "message": message}
                    )
                    self.ctx.workspace.notify(SERVING_TOPIC)
            out.append(inst)
        return out

    def _reconcile(self, dep: DeploymentRecord, insts: list[InstanceRecord]) -> None:
        insts = self._check_alive(insts)
        gen, serving_gen = dep.generation, dep.serving_generation
        key = (dep.endpoint, dep.name)
        # the generation that serves keeps its instances, whatever a rollout beside it does
        if serving_gen is not None:
            self._keep(dep, [i for i in insts if i.generation == serving_gen], serving_gen)
        current = [i for i in insts if i.generation == gen]
        if dep.state in ("Creating", "Updating"):
            want = int(dep.resolved.get("instance_count", 1))
            active = [i for i in current if i.state in ("starting", "ready")]
            ready = [i for i in current if i.state == "ready"]
            failed = [i for i in current if i.state in ("failed", "stopped")]
            if failed:
                reason = (failed[0].message or "the instance failed to start").splitlines()[0]
                serving.fail(
                    self.ctx,
                    dep,
                    f"an instance failed to start: {reason} (its log has the details)",
                )
                self._stop_all(active)
            elif len(ready) >= want:
                serving.succeed(self.ctx, dep)
                self.switched[key] = time.monotonic()
                self.ctx.workspace.notify(SERVING_TOPIC)
            else:
                for _ in range(want - len(active)):
                    self._start(dep, gen)
        elif dep.state == "Failed" and serving_gen != gen:
            # a failed rollout: its instances go (its reason stays on the deployment)
            self._stop_all([i for i in current if i.state != "failed"])
            for inst in current:
                if inst.state == "failed":
                    serving.remove_instance(self.ctx, inst.id)
        # generations that no longer serve (and are not the one being started)
        since = self.switched.get(key, 0.0)
        old = [i for i in insts if i.generation not in (gen, serving_gen)]
        if old and time.monotonic() - since >= DRAIN_S:
            self._stop_all(old)

    def _keep(self, dep: DeploymentRecord, insts: list[InstanceRecord], generation: int) -> None:
        """Replace the serving generation's dead instances, and hold its instance count."""
        spec = serving.resolved_for(dep, generation)
        if spec is None:
            return
        want = int(spec.get("instance_count", 1))
        key = (dep.endpoint, dep.name)
        ended = [i for i in insts if i.state in ("failed", "stopped")]
        for inst in ended:
            reason = (inst.message or "it stopped").splitlines()[0]
            self._note(dep, f"instance {inst.id} ended ({reason}); starting a replacement")
            serving.remove_instance(self.ctx, inst.id)
            self._forget(inst)
        active = [i for i in insts if i.state in ("starting", "ready")]
        if len(active) < want:
            if self._may_restart(key, bool(ended)):
                for _ in range(want - len(active)):
                    self._start(dep, generation)
        elif len(active) > want:
            self._stop_all(sorted(active, key=lambda i: i.started_at)[want:])
        elif all(i.state == "ready" for i in active) and key in self.backoff:
            _pause, last = self.backoff[key]
            if time.monotonic() - last > BACKOFF_MAX_S:
                del self.backoff[key]  # healthy for a while: the next failure restarts at once

    def _may_restart(self, key: tuple[str, str], after_failure: bool) -> bool:
        now = time.monotonic()
        pause, last = self.backoff.get(key, (0.0, 0.0))
        if not after_failure and pause == 0.0:
            return True
        if now - last < pause:
            return False
        self.backoff[key] = (min(max(pause * 2, 2.0), BACKOFF_MAX_S), now)
        return True

    def _start(self, dep: DeploymentRecord, generation: int) -> None:
        instance = uuid.uuid4().hex
        compute = str(dep.resolved.get("compute") or "local")
        launcher = self.launcher(compute)
        # the row first: the worker asks for its spec as soon as it starts
        serving.add_instance(
            self.ctx, dep, instance, {"kind": "pending", "compute": compute}, generation
        )
        try:
            handle = launcher.start(instance)
        except Exception as exc:
            serving.set_instance(
                self.ctx,
                instance,
                state="failed",
                message=f"the worker could not be started on '{compute}': {exc}",
            )
            return
        serving.set_instance(self.ctx, instance, handle=handle)
        log.info("started serving instance %s of %s/%s", instance, dep.endpoint, dep.name)

    def _forget(self, inst: InstanceRecord) -> None:
        self.stopping.pop(inst.id, None)
        self.forced.discard(inst.id)
        if inst.handle.get("kind") in ("local", "pending"):
            self.local.cleanup(inst.id)

    def _stop_all(self, insts: list[InstanceRecord]) -> bool:
        """Ask each instance to stop (once; killed past STOP_TIMEOUT_S); True once all are gone."""
        gone = True
        now = time.monotonic()
        for inst in insts:
            launcher = self._launcher_of(inst)
            try:
                alive = inst.handle.get("kind") != "pending" and launcher.alive(inst.handle)
            except Exception:
                alive = True
            if not alive:
                serving.remove_instance(self.ctx, inst.id)
                self._forget(inst)
                continue
            gone = False
            first = self.stopping.get(inst.id)
            if first is None:
                self.stopping[inst.id] = now
                if inst.state != "stopping":
                    serving.set_instance(self.ctx, inst.id, state="stopping")
                    self.ctx.workspace.notify(SERVING_TOPIC)
                launcher.stop(inst.handle)
            elif now - first > STOP_TIMEOUT_S and inst.id not in self.forced:
                self.forced.add(inst.id)
                launcher.stop(inst.handle, force=True)
        return gone
